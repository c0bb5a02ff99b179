#!/bin/bash
# Session 6 batch 1: attention on the block-product engine (before = 15b36db, after = 01b8e80), the fused
# attention tests on the H200, the GPT tiny step before/after, the f16 elementwise test re-run.
cd "$(dirname "$0")"
R=/tmp/r1; mkdir -p $R
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv > $R/gpu.txt 2>&1
(node fused-attention.test.mjs; echo "exit $?") > $R/fused-attention-test.txt 2>&1
(node webgpu-f16.test.mjs; echo "exit $?") > $R/webgpu-f16-test.txt 2>&1
for i in 1 2; do
  node attention-before.mjs --reps 10 --shape 8,12,1024,64 --methods tiles > $R/attn-before-long-$i.txt 2>&1
  node attention.mjs --reps 10 --shape 8,12,1024,64 --methods tiles > $R/attn-after-long-$i.txt 2>&1
done
node attention-before.mjs --reps 10 --shape 16,4,128,64 --methods tiles > $R/attn-before-short.txt 2>&1
node attention.mjs --reps 10 --shape 16,4,128,64 --methods tiles > $R/attn-after-short.txt 2>&1
node attention.mjs --reps 10 --shape 8,12,1024,64 --methods tiles --tile-rows 32 > $R/attn-after-long-32rows.txt 2>&1
node attention.mjs --reps 10 --shape 4,12,2048,64 --methods tiles > $R/attn-after-2048.txt 2>&1
node attention-before.mjs --reps 10 --shape 4,12,2048,64 --methods tiles > $R/attn-before-2048.txt 2>&1
python3 torch_attention.py --reps 10 > $R/torch-attention.txt 2>&1
python3 torch_attention.py --reps 10 --shape 4,12,2048,64 > $R/torch-attention-2048.txt 2>&1
node train-step-before.mjs --config tiny --steps 50 > $R/train-step-before.txt 2>&1
node train-step.mjs --config tiny --steps 50 > $R/train-step-after.txt 2>&1
tar czf $OUT/r1.tgz -C /tmp r1
