cd dist/device
export CCE_CACHE_DIR=$PWD/cache
ENTRY=$(ls -d $CCE_CACHE_DIR/brown-bpe-*)
R=/tmp/r1; rm -rf $R; mkdir -p $R
t() { local s=$(date +%s); "$@"; echo "[$(($(date +%s)-s)) s] $*" >> $R/timings.txt; }
nvidia-smi --query-gpu=name,driver_version --format=csv > $R/gpu.txt 2>&1
t timeout 120 node tiles-check.mjs > $R/tiles-check.txt 2>&1
t timeout 150 node attention.mjs --reps 10 --methods composed,tiles,rows --json > $R/attention.json 2> $R/attention.txt
t timeout 100 python3 ../../bench/torch_attention.py --reps 10 > $R/torch-attention.txt 2>&1
t timeout 60 python3 ../../bench/torch_attention.py --reps 10 --json > $R/torch-attention.json 2>> $R/torch-attention.txt
for a in composed fused; do
  t timeout 90 node train-step.mjs --config tiny --steps 50 --attention $a --json > $R/train-step-tiny-$a.json 2> $R/train-step-tiny-$a.txt
  t timeout 120 node train-step.mjs --config small --steps 10 --attention $a --json > $R/train-step-small-$a.json 2> $R/train-step-small-$a.txt
done
t timeout 150 python3 ../../bench/torch_gpt.py --tokens $ENTRY --config tiny --steps 2000 --eval-every 100 --out $R/torch-tiny > $R/torch-tiny.log 2>&1
t timeout 200 node train.mjs --out /tmp/ours1 --steps 2000 > $R/ours-tiny.log 2>&1
mkdir -p $R/ours-tiny && cp /tmp/ours1/metrics.jsonl /tmp/ours1/loss-curve.svg $R/ours-tiny/ 2>/dev/null
tar czf $OUT/results1.tgz -C /tmp r1
cat $R/timings.txt
