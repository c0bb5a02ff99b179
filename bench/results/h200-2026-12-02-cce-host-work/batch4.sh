#!/bin/bash
# Session 6 batch 4: CCE at the GPT-2 shape before (15b36db) and after this session's per-dispatch host
# work (HEAD), alternating, with the PyTorch baseline; the GPT tiny step after.
cd "$(dirname "$0")"
R=/tmp/r4; mkdir -p $R
G="--shape 8192,768,50304 --reps 3 --methods cce-auto --data random,peaky"
for i in 1 2; do
  timeout 100 node cce-before.mjs $G > $R/cce-before-$i.txt 2>&1
  timeout 100 node cce.mjs $G > $R/cce-after-$i.txt 2>&1
done
timeout 100 node cce.mjs $G --profile > $R/cce-after-profile.txt 2>&1
timeout 100 python3 torch_baseline.py --shape 8192,768,50304 --reps 3 > $R/torch-gpt2.txt 2>&1
timeout 100 node train-step.mjs --config tiny --steps 50 > $R/train-step-after.txt 2>&1
tar czf $OUT/r4.tgz -C /tmp r4
