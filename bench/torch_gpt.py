#!/usr/bin/env python3
"""PyTorch baseline for `pnpm train`: the same GPT, data, windows, schedule and optimizer, in fp32.

    python3 bench/torch_gpt.py --tokens ~/.cache/cce/tokens/<entry> --config tiny --out runs/torch-gpt

What is the same as examples/train-gpt/run.ts:
  * the model: GPT-2 (learned positions, pre-LN blocks, LayerNorm eps 1e-5, tanh GELU, classifier tied to
    wte, no dropout), init N(0, 0.02), residual projections N(0, 0.02 / sqrt(2 layers)), zero biases;
  * the data: train.bin / val.bin of one token cache entry (packages/nn/src/data/tokens.ts);
  * the windows: mulberry32 (packages/core/src/random.ts) re-implemented in examples/pytorch/cce_common.py,
    seeded like BatchSampler (training) and validationBatches (40 windows, seed 1234); a window of
    T = context tokens predicts its own tokens 1..T-1 (the shift is inside the window: T-1 targets, the mean over B * (T-1));
  * the schedule (packages/nn/src/schedule.ts lrAt) and AdamW (betas 0.9, 0.99, eps 1e-8, weight decay
    0.1 on rank >= 2 parameters, global gradient-norm clip 1.0).
What differs: the initial weights (torch's generator, not ours: the same distribution, not the same
numbers), and this model materialises the [B, T-1, V] logits (the naive loss CCE avoids).

Writes metrics.jsonl (records like ours) and summary.json into --out, prints progress lines and a final
line {"summary": {...}}. TF32 is off, so both sides compute in IEEE fp32.
"""
import argparse
import json
import math
import os
import sys
import time

# mulberry32, the validation windows, the token cache reader and fail() live in
# examples/pytorch/cce_common.py (shared with check_logits.py and continue_training.py): put that
# directory, found from this file's location, on the import path so this works from any cwd.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "pytorch"))
from cce_common import VAL_WINDOWS, fail, mulberry32, read_token_cache, val_starts, window_starts  # noqa: E402

# Imported in main() after the arguments are parsed, so that --help works without them.
np = None
torch = None

PRESETS = {
    # packages/nn/src/layers/gpt.ts GPT_PRESETS
    "micro": dict(layers=2, heads=2, dim=64, context=64, batch=8),
    "tiny": dict(layers=4, heads=4, dim=256, context=128, batch=16),
    "small": dict(layers=6, heads=6, dim=384, context=256, batch=32),
}


# ---------------------------------------------------------------------------------------------------
# Pure Python: the training windows and the schedule (no torch needed). The generator, the validation
# windows and the token cache reader are examples/pytorch/cce_common.py's, shared with the examples.

def train_starts(n_tokens, context, batch, seed, steps):
    """The starts of every training batch, [steps][batch], in the order BatchSampler draws them."""
    rng = mulberry32(seed)
    return [window_starts(n_tokens, context, batch, rng) for _ in range(steps)]


def lr_at(step, steps, max_lr, min_lr, warmup):
    """packages/nn/src/schedule.ts lrAt: step is 0-based."""
    if step < warmup:
        return max_lr * (step + 1) / warmup
    if step >= steps:
        return min_lr
    t = (step - warmup) / (steps - warmup)
    return min_lr + (max_lr - min_lr) * (1 + math.cos(math.pi * t)) / 2


# ---------------------------------------------------------------------------------------------------
# The model (defined once torch is imported).

def define_gpt():
    nn = torch.nn
    F = torch.nn.functional

    class CausalSelfAttention(nn.Module):
        def __init__(self, dim, heads, context, attention):
            super().__init__()
            self.heads, self.attention = heads, attention
            self.c_attn = nn.Linear(dim, 3 * dim)  # q | k | v columns, as GPT-2's c_attn
            self.c_proj = nn.Linear(dim, dim)
            if attention == "naive":
                # True above the diagonal: the future positions a query must not see.
                self.register_buffer("future", torch.triu(torch.ones(context, context, dtype=torch.bool), 1), persistent=False)

        def forward(self, x):
            B, T, d = x.shape
            H = self.heads
            q, k, v = (t.view(B, T, H, d // H).transpose(1, 2) for t in self.c_attn(x).split(d, dim=2))  # [B, H, T, dh]
            if self.attention == "sdpa":
                # PyTorch's best fp32 path: flash attention takes no fp32, so this dispatches to the
                # memory-efficient kernel (no [T, T] scores kept for the backward).
                y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:
                # Our composition: scores, -inf above the diagonal, softmax, weighted sum of v.
                att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d // H))
                att = att.masked_fill(self.future[:T, :T], float("-inf")).softmax(dim=-1)
                y = att @ v
            return self.c_proj(y.transpose(1, 2).reshape(B, T, d))

    class MLP(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.c_fc = nn.Linear(dim, 4 * dim)
            self.act = nn.GELU(approximate="tanh")  # GPT-2's gelu_new, core's gelu
            self.c_proj = nn.Linear(4 * dim, dim)

        def forward(self, x):
            return self.c_proj(self.act(self.c_fc(x)))

    class Block(nn.Module):
        def __init__(self, dim, heads, context, attention):
            super().__init__()
            self.ln_1 = nn.LayerNorm(dim, eps=1e-5)
            self.attn = CausalSelfAttention(dim, heads, context, attention)
            self.ln_2 = nn.LayerNorm(dim, eps=1e-5)
            self.mlp = MLP(dim)

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self, vocab, context, layers, heads, dim, attention):
            super().__init__()
            self.wte = nn.Embedding(vocab, dim)
            self.wpe = nn.Embedding(context, dim)
            self.h = nn.ModuleList(Block(dim, heads, context, attention) for _ in range(layers))
            self.ln_f = nn.LayerNorm(dim, eps=1e-5)
            # GPT-2's init, as packages/nn: N(0, 0.02) weights and embeddings, zero biases, LayerNorm
            # (1, 0) (nn.LayerNorm's default), residual projections N(0, 0.02 / sqrt(2 layers)).
            for mod in self.modules():
                if isinstance(mod, (nn.Linear, nn.Embedding)):
                    nn.init.normal_(mod.weight, mean=0.0, std=0.02)
                if isinstance(mod, nn.Linear):
                    nn.init.zeros_(mod.bias)
            for block in self.h:
                for proj in (block.attn.c_proj, block.mlp.c_proj):
                    nn.init.normal_(proj.weight, mean=0.0, std=0.02 / math.sqrt(2 * layers))

        def loss(self, ids):
            """The mean next-token cross-entropy over ids [B, T]: position t predicts ids[:, t + 1]."""
            T = ids.shape[1]
            x = self.wte(ids) + self.wpe.weight[:T]
            for block in self.h:
                x = block(x)
            h = self.ln_f(x)
            # Logits only for the T-1 positions with a target: [B, T-1, V] against the tied embedding.
            logits = F.linear(h[:, :-1], self.wte.weight)
            return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))

    return GPT


# ---------------------------------------------------------------------------------------------------

def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="Train pnpm train's GPT in PyTorch fp32 (TF32 off) on the same token cache entry, windows, "
                    "schedule and optimizer; report validation loss, tokens/s and peak step memory.")
    p.add_argument("--tokens", required=True, metavar="DIR", help="token cache entry directory (holds meta.json, train.bin, val.bin)")
    p.add_argument("--config", choices=sorted(PRESETS), default="tiny", help="model preset (default tiny)")
    p.add_argument("--steps", type=int, default=2000, help="schedule length and steps run (default 2000)")
    p.add_argument("--eval-every", type=int, default=100, metavar="N", help="validation loss every N steps and at the end (default 100)")
    p.add_argument("--log-every", type=int, default=10, metavar="N", help="a progress line and a metrics record every N steps (default 10)")
    p.add_argument("--batch", type=int, help="windows per batch (default: the preset's: micro 8, tiny 16, small 32)")
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default 1e-3; min is lr/10)")
    p.add_argument("--seed", type=int, default=1337, help="seed of the training windows (mulberry32) and torch's init (default 1337)")
    p.add_argument("--attention", choices=["sdpa", "naive"], default="sdpa", help="scaled_dot_product_attention (default) or explicit scores + softmax")
    p.add_argument("--out", default="runs/torch-gpt", metavar="DIR", help="where metrics.jsonl and summary.json go (default runs/torch-gpt)")
    p.add_argument("--device", default="cuda", help="torch device (default cuda)")
    p.add_argument("--memory-step", type=int, default=10, metavar="N",
                   help="the step whose peak memory is measured (default 10: after the first, once AdamW's state exists)")
    a = p.parse_args(argv)
    for name in ("steps", "eval_every", "log_every", "memory_step"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be a positive integer")
    if a.batch is not None and a.batch < 1:
        p.error("--batch must be a positive integer")
    if not (a.lr > 0 and math.isfinite(a.lr)):
        p.error("--lr must be a positive number")
    if a.seed < 0:
        p.error("--seed must be non-negative")
    return a


def main(argv=None):
    global np, torch
    args = parse_args(argv)
    try:
        import numpy
        import torch as torch_module
    except ImportError as e:
        fail(f"needs PyTorch and numpy ({e})")
    np, torch = numpy, torch_module

    preset = PRESETS[args.config]
    T, layers, heads, dim = preset["context"], preset["layers"], preset["heads"], preset["dim"]
    B = args.batch or preset["batch"]
    steps = args.steps
    meta, train, val = read_token_cache(args.tokens, np)
    V = meta["modelVocabSize"]
    for name, ids in (("train", train), ("val", val)):
        if ids.size < T + 1:
            fail(f"{args.tokens}: the {name} split holds {ids.size} tokens, fewer than one window of {T + 1}")

    device = torch.device(args.device)
    cuda = device.type == "cuda"
    if cuda:
        if not torch.cuda.is_available():
            fail("--device cuda but torch sees no CUDA device (use --device cpu to try it on the CPU)")
        # IEEE fp32 everywhere, as our kernels compute (the default allows TF32 in cuDNN).
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    sync = torch.cuda.synchronize if cuda else (lambda: None)

    torch.manual_seed(args.seed)
    model = define_gpt()(V, T, layers, heads, dim, args.attention).to(device)
    model.train()
    parameters = sum(p.numel() for p in model.parameters())  # the tied wte counted once, as gptParameterCount
    decay = [p for p in model.parameters() if p.dim() >= 2]  # wte, wpe, every Linear weight
    no_decay = [p for p in model.parameters() if p.dim() < 2]  # biases, LayerNorm
    max_lr = args.lr
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=max_lr, betas=(0.9, 0.99), eps=1e-8, fused=cuda)
    warmup = min(100, steps // 10)
    min_lr = max_lr / 10

    # Every batch's window starts up front ([steps, B] on the device, a few hundred KB), so a step
    # copies nothing from the host; the window is gathered as tokens[start + arange(T)].
    train_ids = torch.from_numpy(train).to(device)
    starts = torch.tensor(train_starts(train.size, T, B, args.seed, steps), dtype=torch.long, device=device)
    offsets = torch.arange(T, device=device)
    val_ids = torch.from_numpy(val).to(device)
    vs = torch.tensor(val_starts(val.size, T), dtype=torch.long, device=device)
    val_batches = [val_ids[vs[i:i + B, None] + offsets] for i in range(0, VAL_WINDOWS, B)]

    @torch.no_grad()
    def evaluate():
        model.eval()
        total = sum(model.loss(ids).item() * ids.shape[0] for ids in val_batches)
        model.train()
        return total / VAL_WINDOWS

    os.makedirs(args.out, exist_ok=True)
    metrics_path = os.path.join(args.out, "metrics.jsonl")
    open(metrics_path, "w").close()
    gpu = torch.cuda.get_device_name(device) if cuda else "cpu"
    print(f"model: {args.config} ({layers} layers, {heads} heads, d={dim}, context {T}, vocab {V}), {parameters / 1e6:.2f}M parameters; "
          f"data: {meta.get('corpus')}, {train.size} training and {val.size} validation tokens; torch {torch.__version__} on {gpu}, attention {args.attention}", flush=True)
    print(f"training: {steps} steps, batch {B} x {T} tokens, lr {max_lr} (warmup {warmup}, cosine to {min_lr}), seed {args.seed}", flush=True)

    memory_step = min(args.memory_step, steps)
    peak_step_bytes = live_bytes = None
    evals = []
    train_seconds = 0.0
    first_interval = None  # (seconds, tokens) of the first logged interval: step 1, with CUDA's warmup
    interval_tokens = 0
    sync()
    started = interval_start = time.perf_counter()
    for i in range(steps):
        step = i + 1
        lr = lr_at(i, steps, max_lr, min_lr, warmup)
        for g in opt.param_groups:
            g["lr"] = lr
        log_now = step == 1 or step % args.log_every == 0 or step == steps or step % args.eval_every == 0
        measure = cuda and step == memory_step
        if measure:
            # The step's peak beyond what is live at its start (weights, AdamW state, data; no gradients:
            # zero_grad frees them).
            sync()
            live_bytes = torch.cuda.memory_allocated(device)
            torch.cuda.reset_peak_memory_stats(device)
        loss = model.loss(train_ids[starts[i, :, None] + offsets])
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # the norm before clipping, as ours
        opt.step()
        opt.zero_grad(set_to_none=True)
        if measure:
            sync()
            peak_step_bytes = torch.cuda.max_memory_allocated(device) - live_bytes
        interval_tokens += B * T
        if not log_now:
            continue
        loss_v, norm_v = loss.item(), grad_norm.item()  # waits for the device
        sync()
        secs = time.perf_counter() - interval_start
        train_seconds += secs
        if first_interval is None:
            first_interval = (secs, interval_tokens)
        tps = interval_tokens / secs
        interval_tokens = 0
        rec = {"step": step, "steps": steps, "loss": loss_v, "lr": lr, "gradNorm": norm_v, "tokensPerSecond": round(tps),
               "elapsedSeconds": round(time.perf_counter() - started, 2)}
        if step % args.eval_every == 0 or step == steps:
            rec["valLoss"] = evaluate()  # outside the timed interval
            evals.append({"step": step, "valLoss": rec["valLoss"]})
        eta = (steps - step) * train_seconds / step
        val_txt = f"  val {rec['valLoss']:.4f}" if "valLoss" in rec else ""
        print(f"step {step:>{len(str(steps))}}/{steps}  loss {loss_v:.4f}{val_txt}  lr {lr:.2e}  {round(tps):,} tok/s  ETA {eta:.0f}s", flush=True)
        with open(metrics_path, "a") as f:
            f.write(json.dumps(rec) + "\n")
        sync()
        interval_start = time.perf_counter()

    total_tokens = steps * B * T
    rest_seconds = train_seconds - first_interval[0]
    mib = lambda b: None if b is None else round(b / 2**20, 1)
    summary = {
        "config": args.config, "layers": layers, "heads": heads, "dim": dim, "context": T, "vocab": V, "batch": B,
        "parameters": parameters, "steps": steps, "lr": max_lr, "seed": args.seed, "attention": args.attention,
        "device": gpu, "torch": torch.__version__, "tf32": {"matmul": torch.backends.cuda.matmul.allow_tf32, "cudnn": torch.backends.cudnn.allow_tf32},
        "tokens": args.tokens, "corpus": meta.get("corpus"),
        "valLoss": evals, "finalValLoss": evals[-1]["valLoss"],
        # Training tokens over training wall time, evaluation excluded (as run.ts reports it) ...
        "tokensPerSecond": round(total_tokens / train_seconds),
        # ... and without the first step (CUDA context, cuBLAS handles, kernel selection).
        "tokensPerSecondAfterFirstStep": round((total_tokens - first_interval[1]) / rest_seconds) if steps > 1 and rest_seconds > 0 else None,
        "trainSeconds": round(train_seconds, 3),
        "memoryStep": memory_step if cuda else None, "peakStepMiB": mib(peak_step_bytes), "liveAtStepStartMiB": mib(live_bytes),
    }
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    print(json.dumps({"summary": summary}), flush=True)


if __name__ == "__main__":
    main()
