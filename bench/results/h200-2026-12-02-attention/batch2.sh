cd dist/device
R=/tmp/r2; rm -rf $R; mkdir -p $R
for v in r32c32 r64c32 r64c64 r32c64; do
  timeout 100 node att-$v.mjs --reps 10 --methods tiles --json > $R/att-$v.json 2> $R/att-$v.txt
done
tar czf $OUT/results2.tgz -C /tmp r2
grep -h "fwd\|GPU ms" $R/*.txt
