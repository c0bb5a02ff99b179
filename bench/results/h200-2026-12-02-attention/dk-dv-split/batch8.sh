cd dist/device
R=/tmp/r8; rm -rf $R; mkdir -p $R
for i in 1 2; do
node attention.mjs --reps 10 --shape 8,12,1024,64 --methods tiles > $R/before-$i.txt 2>&1
node att-split.mjs --reps 10 --shape 8,12,1024,64 --methods tiles > $R/split-$i.txt 2>&1
done
node att-split.mjs --reps 10 --shape 16,4,128,64 --methods tiles > $R/split-short.txt 2>&1
node attention.mjs --reps 10 --shape 16,4,128,64 --methods tiles > $R/before-short.txt 2>&1
tar czf $OUT/results8.tgz -C /tmp r8
for f in before-1 split-1 before-2 split-2 before-short split-short; do echo "== $f"; grep -A1 "fwd+bwd" $R/$f.txt | head -2; done
