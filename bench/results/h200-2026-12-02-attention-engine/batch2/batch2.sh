#!/bin/bash
# Session 6 batch 2: attention with the forward's softmax in registers (BN 32), the same with blocks of 64
# other-side rows, and the version before the engine (15b36db), alternating; the GPT tiny step.
cd "$(dirname "$0")"
R=/tmp/r2; mkdir -p $R
for i in 1 2; do
  for v in before after bn64; do
    f=attention.mjs; [ $v = before ] && f=attention-before.mjs; [ $v = bn64 ] && f=attention-bn64.mjs
    node $f --reps 10 --shape 8,12,1024,64 --methods tiles > $R/attn-$v-long-$i.txt 2>&1
    node $f --reps 10 --shape 4,12,2048,64 --methods tiles > $R/attn-$v-2048-$i.txt 2>&1
    node $f --reps 10 --shape 16,4,128,64 --methods tiles > $R/attn-$v-short-$i.txt 2>&1
  done
done
node train-step.mjs --config tiny --steps 50 > $R/train-step-after.txt 2>&1
node train-step-before.mjs --config tiny --steps 50 > $R/train-step-before.txt 2>&1
tar czf $OUT/r2.tgz -C /tmp r2
