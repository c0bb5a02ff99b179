cd dist/device
R=/tmp/r7; rm -rf $R; mkdir -p $R
for s in 8 32 128 512; do
  timeout 120 node cce.mjs --shape 8192,768,50304 --methods cce-auto --data random --reps 3 --scratch $s --profile --json > $R/cce-random-scratch$s.json 2> $R/cce-random-scratch$s.txt
done
timeout 120 node cce.mjs --shape 8192,768,50304 --methods cce-auto --data peaky --reps 3 --scratch 128 --json > $R/cce-peaky-scratch128.json 2> $R/cce-peaky-scratch128.txt
tar czf $OUT/results7.tgz -C /tmp r7
for s in 8 32 128 512; do echo "== scratch $s MiB"; grep -h "cce-auto\|grad_\|lse_b" $R/cce-random-scratch$s.txt | head -6; done; grep -h "cce-auto" $R/cce-peaky-scratch128.txt
