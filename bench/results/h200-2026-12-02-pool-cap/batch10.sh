cd dist/device
R=/tmp/r10; rm -rf $R; mkdir -p $R
for i in 1 2; do
timeout 60 node train-step.mjs --config small --steps 10 --json > $R/small-pool1g-$i.json 2> $R/small-pool1g-$i.txt
timeout 60 node train-step-pool8g.mjs --config small --steps 10 --json > $R/small-pool8g-$i.json 2> $R/small-pool8g-$i.txt
done
timeout 60 node train-step-pool8g.mjs --config tiny --steps 50 --json > $R/tiny-pool8g.json 2> $R/tiny-pool8g.txt
tar czf $OUT/results10.tgz -C /tmp r10
for f in $R/*.json; do python3 -c "
import json; d=json.load(open('$f')); print('$f'.split('/')[-1], round(d['stepMs'],1), 'host', round(d['hostMsPerStep'],1), 'gpu', round(d['gpuMsPerStep'],1), 'peak', round(d['peakStepMiB']), 'pooled', round(d['pooledMiB']))"; done
