"""PyTorch baseline for bench/attention.ts: fp32 causal attention (TF32 off), composed from matmul,
scale, -inf mask, softmax and matmul, against F.scaled_dot_product_attention(is_causal=True), forward
and forward+backward.

    python3 bench/torch_attention.py [--shape B,H,T,dh] [--reps N] [--device cuda] [--json]

Reports, per shape and method, the median milliseconds over reps (CUDA events, one synchronize per
pass; on --device cpu, wall time), the peak memory allocated beyond what is live at the pass's start
(torch.cuda.max_memory_allocated; forward+backward includes dq, dk, dv themselves), the device kernels
launched per pass (torch.profiler; '-' where it cannot tell) and the largest |method - composed| of out
and of dq, dk, dv; prints the markdown table of bench/attention.ts, or with --json one JSON object.
For fp32, sdpa cannot use the flash kernel (fp16/bf16 only) and usually runs the memory-efficient one.
"""
import argparse
import json
import math
import time

torch = None  # imported in main(), after the arguments are parsed, so that --help works without torch
F = None

DEFAULT_SHAPES = [(16, 4, 128, 64), (8, 12, 1024, 64)]
METHODS = ("composed", "sdpa")
MiB = 2 ** 20


def shape_arg(text):
    parts = text.split(",")
    try:
        values = [int(x) for x in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected four comma-separated integers B,H,T,dh, got '{text}'")
    if len(values) != 4 or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected four comma-separated positive integers B,H,T,dh, got '{text}'")
    return tuple(values)


def composed(q, k, v):
    """The same ops as bench/attention.ts's composed path: q kᵀ · 1/sqrt(dh) + -inf mask, softmax, @ v."""
    t, dh = q.shape[-2], q.shape[-1]
    mask = torch.full((t, t), float("-inf"), device=q.device, dtype=q.dtype).triu(1)
    return torch.softmax(q @ k.transpose(-2, -1) * (1.0 / math.sqrt(dh)) + mask, dim=-1) @ v


def sdpa(q, k, v):
    return F.scaled_dot_product_attention(q, k, v, is_causal=True)


ATTENTION = {"composed": composed, "sdpa": sdpa}


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, reps, device):
    """Median ms of fn over reps passes after one warm-up pass, synchronising once per pass."""
    times = []
    for r in range(reps + 1):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize(device)
            ms = start.elapsed_time(end)
        else:
            t0 = time.perf_counter()
            fn()
            ms = (time.perf_counter() - t0) * 1000
        if r > 0:
            times.append(ms)
    return sorted(times)[len(times) // 2]


def peak_extra(fn, device):
    """Peak bytes allocated during fn beyond those live at its start (CUDA only)."""
    if device.type != "cuda":
        return None
    sync(device)
    before = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    fn()
    sync(device)
    return torch.cuda.max_memory_allocated(device) - before


def kernels_of(fn, device):
    """Device kernels launched by one pass (torch.profiler), or None where it cannot tell."""
    if device.type != "cuda":
        return None
    try:
        from torch.profiler import ProfilerActivity, profile
        sync(device)
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            fn()
            sync(device)
        events = [e for e in prof.events() if getattr(e, "device_type", None) == torch.autograd.DeviceType.CUDA]
        return len(events) if events else None
    except Exception:  # a profiler without CUPTI, or a torch without this API
        return None


def bench_shape(shape, reps, device, methods, seed):
    b, h, t, dh = shape
    gen = torch.Generator(device=device).manual_seed(seed)
    x = [torch.rand(b, h, t, dh, generator=gen, device=device) * 2 - 1 for _ in range(4)]
    q, k, v, g = x
    for y in (q, k, v):
        y.requires_grad_(True)

    def clear():
        for y in (q, k, v):
            y.grad = None

    def forward(m):
        def run():
            with torch.no_grad():
                ATTENTION[m](q, k, v)
        return run

    def forward_backward(m):
        def run():
            ATTENTION[m](q, k, v).backward(g)
        return run

    rows, values = [], {}
    for m in methods:
        row = {"backend": f"torch {device.type}", "B": b, "H": h, "T": t, "dh": dh, "method": m, "runnable": True}
        rows.append(row)
        try:
            row["forwardMs"] = timed(forward(m), reps, device)

            def fb():
                clear()
                forward_backward(m)()
            row["forwardBackwardMs"] = timed(fb, reps, device)
            clear()
            row["forwardPeakExtraBytes"] = peak_extra(forward(m), device)
            row["forwardBackwardPeakExtraBytes"] = peak_extra(forward_backward(m), device)
            clear()
            row["forwardDispatches"] = kernels_of(forward(m), device)
            row["forwardBackwardDispatches"] = kernels_of(forward_backward(m), device)
            clear()
            out = ATTENTION[m](q, k, v)
            out.backward(g)
            values[m] = [out.detach()] + [y.grad.detach().clone() for y in (q, k, v)]
            clear()
            del out
        except torch.cuda.OutOfMemoryError as err:
            clear()
            row["runnable"] = False
            row["note"] = f"out of memory: {str(err).splitlines()[0]}"
        if device.type == "cuda":
            torch.cuda.empty_cache()
    ref = values.get("composed")
    if ref is not None:
        for row in rows:
            mine = values.get(row["method"])
            if mine is None:
                continue
            row["maxAbsDiffOut"] = (mine[0] - ref[0]).abs().max().item()
            row["maxAbsDiffGrad"] = max((a - r).abs().max().item() for a, r in zip(mine[1:], ref[1:]))
    del q, k, v, g, x, values
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return rows


def fmt_bytes(b):
    if b is None:
        return "-"
    if abs(b) < 1024:
        return f"{b} B"
    if abs(b) < MiB:
        return f"{b / 1024:.2f} KiB"
    return f"{b / MiB:.2f} MiB"


def table(rows):
    head = ["backend", "B", "H", "T", "dh", "method", "fwd ms", "fwd+bwd ms", "fwd peak extra", "fwd+bwd peak extra",
            "fwd dispatches", "fwd+bwd dispatches", "max abs Δ out", "max abs Δ dq,dk,dv"]

    def ms(r, key):
        return f"{r[key]:.2f}" if key in r else ("" if r["runnable"] else "n/a")

    def count(r, key):
        return "-" if r.get(key) is None else str(r[key])

    def diff(r, key):
        return f"{r[key]:.2e}" if key in r else ""

    body = [[r["backend"], str(r["B"]), str(r["H"]), str(r["T"]), str(r["dh"]), r["method"],
             ms(r, "forwardMs"), ms(r, "forwardBackwardMs"),
             fmt_bytes(r.get("forwardPeakExtraBytes")) if r["runnable"] else "", fmt_bytes(r.get("forwardBackwardPeakExtraBytes")) if r["runnable"] else "",
             count(r, "forwardDispatches"), count(r, "forwardBackwardDispatches"),
             diff(r, "maxAbsDiffOut"), diff(r, "maxAbsDiffGrad")] for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]

    def line(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    out = [line(head), line(["-" * w for w in widths])] + [line(b) for b in body]
    notes = [f"- {r['backend']} [{r['B']},{r['H']},{r['T']},{r['dh']}] {r['method']}: {r['note']}" for r in rows if r.get("note")]
    return "\n".join(out + ([""] + notes if notes else []))


def main():
    global torch, F
    parser = argparse.ArgumentParser(
        description="PyTorch fp32 baseline for bench/attention.ts (TF32 off): causal attention composed from matmul, "
        "mask and softmax against F.scaled_dot_product_attention(is_causal=True), forward and forward+backward: "
        "median ms (CUDA events), peak extra memory (torch.cuda.max_memory_allocated), kernels per pass and the "
        "largest difference from the composed path; prints bench/attention.ts's markdown table. Needs torch.")
    parser.add_argument("--shape", type=shape_arg, metavar="B,H,T,dh",
                        help="one shape instead of the default 16,4,128,64 and 8,12,1024,64")
    parser.add_argument("--reps", type=int, default=5, help="timed passes after a warm-up pass (default: 5)")
    parser.add_argument("--device", default="cuda", help="torch device (default: cuda; cpu times wall clock, without memory)")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated, any of composed, sdpa (default: both)")
    parser.add_argument("--seed", type=int, default=1, help="seed of q, k, v and the output gradient (default: 1)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = parser.parse_args()
    if args.reps < 1:
        parser.error(f"--reps: must be at least 1, got {args.reps}")
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        parser.error(f"--methods: expected any of {', '.join(METHODS)}, got '{args.methods}'")
    try:
        import torch as _torch
        import torch.nn.functional as _F
    except ImportError as err:
        parser.exit(1, f"{parser.prog}: needs PyTorch ({err})\n")
    torch, F = _torch, _F
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.exit(1, f"{parser.prog}: no CUDA device (pass --device cpu to run on the CPU)\n")
    shapes = [args.shape] if args.shape else DEFAULT_SHAPES
    rows = [row for shape in shapes for row in bench_shape(shape, args.reps, device, methods, args.seed)]
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    if args.json:
        print(json.dumps({"device": name, "torch": torch.__version__, "tf32": False, "reps": args.reps, "rows": rows}, indent=2))
    else:
        print(f"torch {torch.__version__} on {name}, fp32, TF32 off, median of {args.reps} reps")
        print()
        print(table(rows))


if __name__ == "__main__":
    main()
