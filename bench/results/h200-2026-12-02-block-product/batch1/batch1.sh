cd dist/device
R=/tmp/r1; rm -rf $R; mkdir -p $R
timeout 120 node webgpu.mjs --sizes 2048,4096 > $R/matmul.txt 2>&1
python3 - > $R/cublas.txt 2>&1 <<'PY'
import torch, time
torch.backends.cuda.matmul.allow_tf32 = False
for n in (2048, 4096):
    a = torch.randn(n, n, device='cuda'); b = torch.randn(n, n, device='cuda')
    for _ in range(3): a @ b
    torch.cuda.synchronize(); t = time.perf_counter(); r = 20
    for _ in range(r): a @ b
    torch.cuda.synchronize(); dt = (time.perf_counter() - t) / r
    print(f"cublas fp32 {n}^3: {dt*1e3:.3f} ms, {2*n**3/dt/1e12:.1f} TFLOP/s")
PY
S="--shape 8192,768,50304 --reps 3 --profile"
timeout 150 node cce.mjs $S --methods cce,cce-auto --data random --json > $R/random-default.json 2> $R/random-default.txt
timeout 150 node cce.mjs $S --methods cce,cce-auto --data random --block 128/8x8 --json > $R/random-128.json 2> $R/random-128.txt
timeout 150 node cce.mjs $S --methods cce --data random --forward-block 128/8x8 --backward-block 64/8x8 --json > $R/random-f128-b64x8.json 2> $R/random-f128-b64x8.txt
timeout 150 node cce.mjs $S --methods cce-auto --data random --scratch 32 --json > $R/random-scratch32.json 2> $R/random-scratch32.txt
timeout 150 node cce.mjs $S --methods cce-auto --data peaky --json > $R/peaky-default.json 2> $R/peaky-default.txt
timeout 150 node cce.mjs $S --methods cce-auto --data peaky --block 128/8x8 --json > $R/peaky-128.json 2> $R/peaky-128.txt
timeout 120 python3 ../../bench/torch_baseline.py --shape 8192,768,50304 --reps 3 > $R/torch.json 2> $R/torch.txt
tar czf $OUT/results1.tgz -C /tmp r1
grep -i "tflop\|4096\|2048" $R/matmul.txt | head -8; cat $R/cublas.txt
for f in $R/*.txt; do echo "== $f"; grep -h "fwd \|grad_\|lse_b\|tiled_lse\|Error\|error" $f | head -8; done; cat $R/torch.json | head -30
