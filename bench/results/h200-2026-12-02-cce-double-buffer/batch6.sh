cd dist/device
R=/tmp/r6; rm -rf $R; mkdir -p $R
timeout 100 node db-check.mjs 64/4x4,64/4x4/db,64/8x8/v4,64/8x8/v4/db > $R/db-check.txt 2>&1
S="--shape 8192,768,50304 --methods cce-auto --reps 3 --profile"
timeout 150 node cce.mjs $S --json > $R/cce-default.json 2> $R/cce-default.txt
timeout 150 node cce.mjs $S --engine 64/4x4/db --forward-engine 64/8x8/v4/db --json > $R/cce-db.json 2> $R/cce-db.txt
timeout 100 python3 ../../bench/torch_baseline.py --shape 8192,768,50304 --reps 3 > $R/torch.json 2> $R/torch.txt
tar czf $OUT/results6.tgz -C /tmp r6
grep -v Warning $R/db-check.txt | tail -8; grep -h "ms" $R/cce-default.txt $R/cce-db.txt | grep -v "^ *[a-z_]*/" | head -30; cat $R/torch.json
