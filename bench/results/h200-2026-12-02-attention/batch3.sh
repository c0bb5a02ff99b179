cd dist/device
R=/tmp/r3; rm -rf $R; mkdir -p $R
timeout 150 node attention.mjs --reps 10 --methods composed,tiles,rows --json > $R/attention.json 2> $R/attention.txt
timeout 100 node att-c16.mjs --reps 10 --methods tiles --json > $R/att-c16.json 2> $R/att-c16.txt
timeout 100 python3 ../../bench/torch_attention.py --reps 10 > $R/torch-attention.txt 2>&1
tar czf $OUT/results3.tgz -C /tmp r3
grep -h "fwd\|GPU ms" $R/att*.txt; tail -6 $R/torch-attention.txt
