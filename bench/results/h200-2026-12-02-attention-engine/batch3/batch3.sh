#!/bin/bash
# Session 6 batch 3: the committed attention (engine, blocks of 64, softmax in registers) against 15b36db,
# alternating, three times at the long shape; the other shapes once; the GPT tiny step before/after.
cd "$(dirname "$0")"
R=/tmp/r3; mkdir -p $R
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv > $R/gpu-start.txt 2>&1
for i in 1 2 3; do
  node attention-before.mjs --reps 10 --shape 8,12,1024,64 --methods tiles > $R/attn-before-long-$i.txt 2>&1
  node attention.mjs --reps 10 --shape 8,12,1024,64 --methods tiles > $R/attn-after-long-$i.txt 2>&1
done
node attention.mjs --reps 10 --shape 4,12,2048,64 --methods tiles > $R/attn-after-2048.txt 2>&1
node attention.mjs --reps 10 --shape 16,4,128,64 --methods tiles > $R/attn-after-short.txt 2>&1
node attention.mjs --reps 10 --methods tiles,rows,composed --json > $R/attn-after-all.json 2> $R/attn-after-all.log
for i in 1 2; do
  node train-step-before.mjs --config tiny --steps 50 > $R/train-step-before-$i.txt 2>&1
  node train-step.mjs --config tiny --steps 50 > $R/train-step-after-$i.txt 2>&1
done
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv > $R/gpu-end.txt 2>&1
tar czf $OUT/r3.tgz -C /tmp r3
