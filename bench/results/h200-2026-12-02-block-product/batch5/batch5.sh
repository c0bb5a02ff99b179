cd dist/device
R=/tmp/r5; rm -rf $R; mkdir -p $R
G="--shape 8192,768,50304 --reps 3"
timeout 100 node cce.mjs $G --methods cce,cce-auto --data random,peaky --profile --json > $R/gpt2-default.json 2> $R/gpt2-default.txt
timeout 100 node cce.mjs $G --methods cce-auto --data random,peaky --scratch 64 --backward-block 128/8x8 --json > $R/gpt2-s64-b128.json 2> $R/gpt2-s64-b128.txt
timeout 150 node cce.mjs --shape 8192,2304,256000 --reps 2 --methods cce-auto --data peaky --json > $R/gemma-default.json 2> $R/gemma-default.txt
timeout 100 node train-step-before.mjs --config tiny --steps 50 --json > $R/train-before.json 2> $R/train-before.txt
timeout 100 node train-step.mjs --config tiny --steps 50 --json > $R/train-after.json 2> $R/train-after.txt
timeout 100 python3 ../../bench/torch_baseline.py --shape 8192,768,50304 --reps 3 > $R/torch-gpt2.json 2> $R/torch-gpt2.txt
timeout 150 python3 ../../bench/torch_baseline.py --shape 8192,2304,256000 --data peaky --reps 2 > $R/torch-gemma.json 2> $R/torch-gemma.txt
tar czf $OUT/results5.tgz -C /tmp r5
for f in $R/*.txt; do echo "== $f"; grep -h "fwd \|tiled_lse\|Error\|error" $f | head -6; grep -A2 "ms/step" $f | tail -1; done
grep -h "forwardBackwardMs\|forwardMs" $R/torch-*.json
