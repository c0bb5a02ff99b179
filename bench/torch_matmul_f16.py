"""PyTorch (cuBLAS) baseline for bench/matmul-f16.ts: f16 x f16 matmul, f32 accumulation.

    python3 bench/torch_matmul_f16.py [--sizes 1024,2048,4096,8192] [--shapes 8192x768x50304,...] [--reps N]

Prints one JSON object: median milliseconds (CUDA events) and TFLOP/s (2 M N K) per product, for an
f16 result (torch's usual f16 matmul) and, where torch offers it (mm's out_dtype), an f32 result.
Square products are A[n, n] @ B[n, n]; an MxKxN shape is E[M, K] @ C[N, K].T, the CCE logit product.
Reduced-precision (f16) reductions in split-K are turned off, so every sum is accumulated in f32.
"""
import argparse
import json


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1024,2048,4096,8192")
    ap.add_argument("--shapes", default="8192x768x50304,8192x2304x256000")
    ap.add_argument("--reps", type=int, default=20)
    args = ap.parse_args()
    import torch

    torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction = False

    def timed(fn):
        fn()
        torch.cuda.synchronize()
        times = []
        for _ in range(args.reps):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
        return sorted(times)[len(times) // 2]

    products = [(f"{n}^3", n, n, n, False) for n in map(int, args.sizes.split(",")) if args.sizes]
    for s in filter(None, args.shapes.split(",")):
        m, k, n = map(int, s.split("x"))
        products.append((f"{m}x{k}x{n} (E C^T)", m, n, k, True))
    gen = torch.Generator(device="cuda").manual_seed(1)
    rows = []
    for name, m, n, k, trans_b in products:
        a = torch.randn(m, k, generator=gen, device="cuda", dtype=torch.float16)
        b = torch.randn(n, k, generator=gen, device="cuda", dtype=torch.float16)
        bb = b.T if trans_b else b.view(k, n)
        row = {"product": name, "M": m, "N": n, "K": k}
        ms = timed(lambda: torch.mm(a, bb))
        row["f16_ms"], row["f16_tflops"] = ms, 2 * m * n * k / (ms * 1e-3) / 1e12
        try:
            ms = timed(lambda: torch.mm(a, bb, out_dtype=torch.float32))
            row["f32_ms"], row["f32_tflops"] = ms, 2 * m * n * k / (ms * 1e-3) / 1e12
        except (TypeError, RuntimeError) as e:
            row["f32_error"] = str(e).split("\n")[0]
        rows.append(row)
        del a, b, bb
        torch.cuda.empty_cache()
    print(json.dumps({"torch": torch.__version__, "device": torch.cuda.get_device_name(), "products": rows}, indent=1))


if __name__ == "__main__":
    main()
