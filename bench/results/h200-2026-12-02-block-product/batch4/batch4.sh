cd dist/device
R=/tmp/r4; rm -rf $R; mkdir -p $R
G="--shape 8192,768,50304 --reps 3"
timeout 100 node cce.mjs $G --methods cce --data random --forward-block 128/8x8/k16 --profile --json > $R/fwd-k16.json 2> $R/fwd-k16.txt
timeout 100 node cce.mjs $G --methods cce-auto --data random,peaky --scratch 128 --block 128/8x8 --profile --json > $R/s128-b128.json 2> $R/s128-b128.txt
timeout 100 node cce.mjs $G --methods cce-auto --data random --scratch 128 --json > $R/s128-default.json 2> $R/s128-default.txt
timeout 100 node cce.mjs $G --methods cce-auto --data random,peaky --scratch 64 --block 128/8x8 --json > $R/s64-b128.json 2> $R/s64-b128.txt
timeout 100 node cce.mjs $G --methods cce-auto --data random --scratch 32 --block 128/8x8 --json > $R/s32-b128.json 2> $R/s32-b128.txt
tar czf $OUT/results4.tgz -C /tmp r4
for f in $R/*.txt; do echo "== $f"; grep -h "fwd \|tiled_\|Error\|error" $f | head -12; done
