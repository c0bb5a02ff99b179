cd dist/device
R=/tmp/r3; rm -rf $R; mkdir -p $R
G="--shape 8192,768,50304 --reps 3"
timeout 100 node cce.mjs $G --methods cce,cce-auto --data random,peaky --profile --json > $R/after-gpt2.json 2> $R/after-gpt2.txt
timeout 100 node cce.mjs $G --methods cce-auto --data random,peaky --scratch 16 --json > $R/after-gpt2-scratch16.json 2> $R/after-gpt2-scratch16.txt
timeout 150 node cce.mjs --shape 8192,2304,256000 --reps 2 --methods cce-auto --data peaky --json > $R/after-gemma.json 2> $R/after-gemma.txt
timeout 100 node train-step.mjs --config tiny --steps 50 --json > $R/train-after.json 2> $R/train-after.txt
tar czf $OUT/results3.tgz -C /tmp r3
for f in $R/*.txt; do echo "== $f"; grep -h "fwd \|tiled_lse\|Error\|error" $f | head -6; grep -A2 "ms/step" $f; done
