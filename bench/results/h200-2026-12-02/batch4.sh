cd dist/device
export CCE_CACHE_DIR=$PWD/cache
ENTRY=$(ls -d $CCE_CACHE_DIR/brown-bpe-*)
R=/tmp/r; rm -rf $R; mkdir -p $R
node train-step.mjs --config tiny --steps 50 --json > $R/train-step-tiny.json 2> $R/train-step-tiny.txt
python3 ../../bench/torch_gpt.py --tokens $ENTRY --config tiny --steps 2000 --eval-every 100 --out $R/torch-tiny > $R/torch-tiny.log 2>&1
node train.mjs --out /tmp/ours-tiny --steps 2000 > $R/ours-tiny.log 2>&1
mkdir -p $R/ours-tiny && cp /tmp/ours-tiny/metrics.jsonl /tmp/ours-tiny/loss-curve.svg /tmp/ours-tiny/checkpoint/config.json /tmp/ours-tiny/checkpoint/training_state.json $R/ours-tiny/
node sample.mjs --ckpt /tmp/ours-tiny/checkpoint --write-logits /tmp/logits.safetensors > $R/check-logits.txt 2>&1
python3 ../../examples/pytorch/check_logits.py --ckpt /tmp/ours-tiny/checkpoint --logits /tmp/logits.safetensors >> $R/check-logits.txt 2>&1
node sample.mjs --ckpt /tmp/ours-tiny/checkpoint --tokens 120 --seed 1 --top-k 40 > $R/sample.txt 2>&1
timeout 120 torchrun --nproc_per_node 1 ../../examples/pytorch/continue_training.py --ckpt /tmp/ours-tiny/checkpoint --tokens $ENTRY --steps 200 --out /tmp/continued > $R/continue-training.log 2>&1
cp /tmp/continued/result.json $R/continue-result.json
node train.mjs --out /tmp/split --steps 2000 --stop-after 1000 > $R/split-first.log 2>&1
node train.mjs --out /tmp/split --resume > $R/split-resumed.log 2>&1
cp /tmp/split/metrics.jsonl $R/split-metrics.jsonl
tar czf $OUT/results.tgz -C /tmp r
