"""PyTorch baseline for bench/cce.ts: naive fp32 cross-entropy over materialised logits (TF32 off).

    python3 bench/torch_baseline.py [--quick] [--reps N] [--shape N,D,V] [--data random|peaky]

Prints one JSON object: forward and forward+backward milliseconds (median over reps, CUDA events)
and peak extra memory (bytes allocated beyond inputs and gradient outputs) per shape and data kind.
Data follow the same recipes as @cce/cce's synthetic generators (random; peaky: geometric popularity
falloff over a shuffled vocabulary), drawn with torch's generator.
"""
import argparse
import json
import math

torch = None  # imported in main(), after the arguments are parsed, so that --help works without torch
F = None


def make_data(kind, n, d, v, gen, device):
    if kind == "random":
        e = torch.randn(n, d, generator=gen, device=device)
        c = torch.randn(v, d, generator=gen, device=device) / math.sqrt(d)
        t = torch.randint(0, v, (n,), generator=gen, device=device)
        return e, c, t
    tau = 10.0
    order = torch.randperm(v, generator=gen, device=device)
    e = torch.randn(n, d, generator=gen, device=device)
    e[:, d - 1] = 1.0
    c = torch.randn(v, d, generator=gen, device=device) * 0.8 / math.sqrt(d - 1)
    rank = torch.empty(v, device=device)
    rank[order] = torch.arange(v, device=device, dtype=torch.float32)
    c[:, d - 1] = -rank / tau
    u = torch.rand(n, generator=gen, device=device)
    ranks = torch.clamp((-tau * torch.log1p(-u)).floor().long(), max=v - 1)
    return e, c, order[ranks]


def timed(fn, reps):
    times = []
    for r in range(reps + 1):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        if r > 0:
            times.append(start.elapsed_time(end))
    return sorted(times)[len(times) // 2]


def bench(kind, n, d, v, reps):
    device = "cuda"
    gen = torch.Generator(device=device).manual_seed(1)
    e, c, t = make_data(kind, n, d, v, gen, device)
    e.requires_grad_(True)
    c.requires_grad_(True)

    def forward():
        with torch.no_grad():
            F.cross_entropy(e @ c.T, t)

    def forward_backward():
        e.grad = None
        c.grad = None
        F.cross_entropy(e @ c.T, t).backward()

    row = {"data": kind, "N": n, "D": d, "V": v, "method": "torch-naive-fp32"}
    try:
        row["forwardMs"] = timed(forward, reps)
        row["forwardBackwardMs"] = timed(forward_backward, reps)
        e.grad = None
        c.grad = None
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated() + (e.numel() + c.numel()) * 4
        torch.cuda.reset_peak_memory_stats()
        forward_backward()
        torch.cuda.synchronize()
        row["peakExtraBytes"] = torch.cuda.max_memory_allocated() - base
    except torch.cuda.OutOfMemoryError as err:
        row["note"] = f"out of memory: {str(err).splitlines()[0]}"
    del e, c, t
    torch.cuda.empty_cache()
    return row


def shape_arg(text):
    parts = text.split(",")
    try:
        values = [int(x) for x in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected three comma-separated integers N,D,V, got '{text}'")
    if len(values) != 3 or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected three comma-separated positive integers N,D,V, got '{text}'")
    return tuple(values)


def main():
    global torch, F
    parser = argparse.ArgumentParser(
        description="PyTorch fp32 baseline for bench/cce.ts: naive cross-entropy over materialised logits (TF32 off), "
        "forward and forward+backward milliseconds (median over reps, CUDA events) and peak extra memory; "
        "prints one JSON object. Needs torch and a CUDA device.")
    parser.add_argument("--quick", action="store_true", help="the small shape 512,64,4096 only")
    parser.add_argument("--reps", type=int, default=5, help="timed passes after a warm-up pass (default: 5)")
    parser.add_argument("--shape", type=shape_arg, metavar="N,D,V",
                        help="one shape instead of the benchmark's list (default: 8192,768,50304 16384,384,50304 8192,2304,256000)")
    parser.add_argument("--data", choices=("random", "peaky"), help="one data kind instead of both")
    args = parser.parse_args()
    if args.reps < 1:
        parser.error(f"--reps: must be at least 1, got {args.reps}")
    import torch as _torch
    import torch.nn.functional as _F
    torch, F = _torch, _F
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    if args.shape:
        shapes = [args.shape]
    elif args.quick:
        shapes = [(512, 64, 4096)]
    else:
        shapes = [(8192, 768, 50304), (16384, 384, 50304), (8192, 2304, 256000)]
    kinds = (args.data,) if args.data else ("random", "peaky")
    rows = [bench(kind, n, d, v, args.reps) for (n, d, v) in shapes for kind in kinds]
    print(json.dumps({"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
