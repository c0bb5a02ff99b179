cd dist/device
R=/tmp/r2; rm -rf $R; mkdir -p $R
G="--shape 8192,768,50304 --reps 3"
timeout 100 node cce-before.mjs $G --methods cce,cce-auto --data random,peaky --json > $R/before-gpt2.json 2> $R/before-gpt2.txt
timeout 100 node cce.mjs $G --methods cce,cce-auto --data random,peaky --profile --json > $R/after-gpt2.json 2> $R/after-gpt2.txt
for s in 16 32; do timeout 100 node cce.mjs $G --methods cce-auto --data random,peaky --scratch $s --json > $R/after-gpt2-scratch$s.json 2> $R/after-gpt2-scratch$s.txt; done
timeout 150 node cce.mjs --shape 8192,2304,256000 --reps 2 --methods cce-auto --data peaky --json > $R/after-gemma.json 2> $R/after-gemma.txt
timeout 150 node cce-before.mjs --shape 8192,2304,256000 --reps 2 --methods cce-auto --data peaky --json > $R/before-gemma.json 2> $R/before-gemma.txt
timeout 100 node train-step-before.mjs --config tiny --steps 50 --json > $R/train-before.json 2> $R/train-before.txt
timeout 100 node train-step.mjs --config tiny --steps 50 --json > $R/train-after.json 2> $R/train-after.txt
timeout 100 python3 ../../bench/torch_baseline.py --shape 8192,768,50304 --reps 3 > $R/torch-gpt2.json 2> $R/torch-gpt2.txt
timeout 150 python3 ../../bench/torch_baseline.py --shape 8192,2304,256000 --data peaky --reps 2 > $R/torch-gemma.json 2> $R/torch-gemma.txt
tar czf $OUT/results2.tgz -C /tmp r2
for f in $R/*.txt; do echo "== $f"; grep -h "fwd \|step\|Error\|error" $f | grep -v "^ *[a-z_]*/" | head -6; done
grep -h "forwardMs\|forwardBackwardMs\|peakExtra\|data" $R/torch-*.json
