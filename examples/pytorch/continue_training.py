#!/usr/bin/env python3
"""Continues training a `pnpm train` checkpoint with PyTorch DDP and Hugging Face transformers.

    torchrun --nproc_per_node 2 examples/pytorch/continue_training.py \\
        --ckpt runs/gpt/checkpoint --tokens ~/.cache/cce/tokens/<entry> --steps 200 --out runs/gpt-torch
    python examples/pytorch/continue_training.py ...   (the same with one process, no torchrun)

Loads GPT2LMHeadModel from our checkpoint (local files only; nothing is downloaded), measures the
validation loss on the same 40 windows `pnpm train` uses (mulberry32, seed 1234) — printed beside the
one pnpm train recorded for the checkpoint, which is the check that the checkpoint loads right — then
trains `--steps` steps with DDP (each rank its own random windows), AdamW at a constant small lr (the end
of our cosine schedule) and a gradient-norm clip of 1.0, and measures the validation loss again. Rank 0
writes the model with save_pretrained into --out, and result.json.
"""
import argparse
import json
import math
import os

# Same directory: `python examples/pytorch/continue_training.py` and torchrun put it on sys.path.
from cce_common import HARMLESS_MISSING, VAL_WINDOWS, fail, read_token_cache, val_starts


def recorded_val_loss(ckpt):
    """(step, valLoss) pnpm train recorded for this checkpoint: training_state.json's step, looked up in
    ../metrics.jsonl; None when either is not there."""
    try:
        with open(os.path.join(ckpt, "training_state.json"), encoding="utf-8") as f:
            step = json.load(f)["step"]
        with open(os.path.join(os.path.dirname(os.path.abspath(ckpt)), "metrics.jsonl"), encoding="utf-8") as f:
            for line in f:
                rec = json.loads(line) if line.strip() else {}
                if rec.get("step") == step and "valLoss" in rec:
                    return step, rec["valLoss"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def training_state(ckpt):
    try:
        with open(os.path.join(ckpt, "training_state.json"), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Continue training a pnpm train checkpoint with PyTorch DDP (torchrun) or one process (python).")
    p.add_argument("--ckpt", required=True, metavar="DIR", help="checkpoint directory of pnpm train (model.safetensors, config.json), e.g. runs/gpt/checkpoint")
    p.add_argument("--tokens", required=True, metavar="DIR", help="token cache entry directory the checkpoint was trained on (meta.json, train.bin, val.bin)")
    p.add_argument("--steps", type=int, default=200, help="optimizer steps (default 200)")
    p.add_argument("--out", required=True, metavar="DIR", help="where save_pretrained and result.json write")
    p.add_argument("--lr", type=float, default=1e-4, help="constant learning rate (default 1e-4: where our schedule ends for lr 1e-3)")
    p.add_argument("--batch", type=int, help="windows per rank and step (default: training_state.json's batch, else 16)")
    p.add_argument("--seed", type=int, default=1337, help="seed of the training windows; rank r uses seed + r (default 1337)")
    p.add_argument("--log-every", type=int, default=10, metavar="N", help="a progress line every N steps (default 10)")
    p.add_argument("--device", choices=["auto", "cuda", "cpu"], default="auto", help="auto: CUDA (NCCL) when available, else CPU (gloo)")
    a = p.parse_args(argv)
    if a.steps < 0 or a.log_every < 1 or (a.batch is not None and a.batch < 1):
        p.error("--steps must be >= 0, --log-every and --batch >= 1")
    if not (a.lr > 0 and math.isfinite(a.lr)):
        p.error("--lr must be a positive number")
    return a


def main(argv=None):
    args = parse_args(argv)
    try:
        import numpy as np
        import torch
        import torch.distributed as dist
        from torch.nn.parallel import DistributedDataParallel as DDP
        from transformers import GPT2LMHeadModel
    except ImportError as e:
        fail(f"needs torch, numpy and transformers ({e})")

    # torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; plain `python` runs one process without a group.
    distributed = "RANK" in os.environ and "WORLD_SIZE" in os.environ
    rank = int(os.environ.get("RANK", 0))
    world = int(os.environ.get("WORLD_SIZE", 1))
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    if cuda:
        if not torch.cuda.is_available():
            fail("--device cuda but torch sees no CUDA device")
        if local_rank >= torch.cuda.device_count():
            fail(f"LOCAL_RANK {local_rank} but only {torch.cuda.device_count()} CUDA devices")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    else:
        device = torch.device("cpu")
    if distributed:
        if cuda:
            dist.init_process_group(backend="nccl", device_id=device)
        else:
            dist.init_process_group(backend="gloo")
    say = (lambda *a: print(*a, flush=True)) if rank == 0 else (lambda *a: None)

    meta, train, val = read_token_cache(args.tokens, np)
    for f in ("config.json", "model.safetensors"):
        if not os.path.isfile(os.path.join(args.ckpt, f)):
            fail(f"{args.ckpt}: {f} is missing (expected a pnpm train checkpoint directory)")
    model, info = GPT2LMHeadModel.from_pretrained(args.ckpt, local_files_only=True, output_loading_info=True)
    # from_pretrained initialises missing weights at random with only a warning: refuse that here.
    missing = [k for k in info.get("missing_keys", []) if not HARMLESS_MISSING.match(k)]
    if missing or info.get("unexpected_keys") or info.get("mismatched_keys"):
        fail(f"{args.ckpt} does not match GPT2LMHeadModel: missing {missing}, unexpected {info.get('unexpected_keys')}, mismatched {info.get('mismatched_keys')}")
    model = model.float().to(device)
    cfg = model.config
    T = cfg.n_positions
    if cfg.vocab_size != meta.get("modelVocabSize"):
        fail(f"the checkpoint's vocab_size {cfg.vocab_size} is not the token cache's modelVocabSize {meta.get('modelVocabSize')} (another tokenizer?)")
    for name, ids in (("train", train), ("val", val)):
        if ids.size < T + 1:
            fail(f"{args.tokens}: the {name} split holds {ids.size} tokens, fewer than one window of {T + 1}")
    state = training_state(args.ckpt)
    B = args.batch or state.get("batch") or 16

    train_ids = torch.from_numpy(train).to(device)
    val_ids = torch.from_numpy(val).to(device)
    offsets = torch.arange(T, device=device)
    vs = torch.tensor(val_starts(val.size, T), dtype=torch.long, device=device)
    val_batches = [val_ids[vs[i:i + B, None] + offsets] for i in range(0, VAL_WINDOWS, B)]

    @torch.no_grad()
    def evaluate():
        """The mean loss over the 40 windows, as pnpm train's: labels = input_ids (transformers shifts
        inside the window: T-1 targets each), batch means weighted by their windows. Every rank computes
        the same number (same weights, same windows), so no communication is needed."""
        model.eval()
        total = sum(model(input_ids=x, labels=x).loss.item() * x.shape[0] for x in val_batches)
        model.train()
        return total / VAL_WINDOWS

    val_before = evaluate()
    recorded = recorded_val_loss(args.ckpt)
    if recorded:
        step, ours = recorded
        note = "" if abs(val_before - ours) <= 1e-3 else "  <- differs by more than 1e-3: is the checkpoint read right, is --tokens its cache entry?"
        say(f"validation loss before: {val_before:.5f} (transformers), {ours:.5f} (pnpm train at step {step}), difference {val_before - ours:+.2e}{note}")
    else:
        say(f"validation loss before: {val_before:.5f} (no training_state.json / ../metrics.jsonl to compare with)")

    ddp = DDP(model, device_ids=[local_rank] if cuda else None) if distributed else model
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.99), eps=1e-8)
    # Each rank its own windows: a CPU generator seeded seed + rank; starts in [0, n - T) as ours.
    gen = torch.Generator().manual_seed(args.seed + rank)
    say(f"training: {args.steps} steps on {world} {'GPU' if cuda else 'CPU'} process(es), batch {B} x {T} tokens per rank, lr {args.lr}")
    model.train()
    for step in range(1, args.steps + 1):
        starts = torch.randint(0, train.size - T, (B,), generator=gen).to(device)
        x = train_ids[starts[:, None] + offsets]
        loss = ddp(input_ids=x, labels=x).loss
        loss.backward()  # DDP averages the gradients over the ranks here
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if step == 1 or step % args.log_every == 0 or step == args.steps:
            mean = loss.detach().clone()
            if distributed:
                dist.all_reduce(mean)  # SUM (gloo has no AVG), divided below
            say(f"step {step}/{args.steps}  loss {mean.item() / world:.4f} (mean over ranks)  grad norm {norm.item():.3f}")

    val_after = evaluate()
    say(f"validation loss after {args.steps} steps: {val_after:.5f} (before {val_before:.5f})")
    if rank == 0:
        os.makedirs(args.out, exist_ok=True)
        model.save_pretrained(args.out)
        result = {"valBefore": val_before, "valAfter": val_after, "steps": args.steps, "worldSize": world, "batchPerRank": B,
                  "context": T, "lr": args.lr, "recordedValLoss": recorded[1] if recorded else None}
        with open(os.path.join(args.out, "result.json"), "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
        say(f"wrote {args.out} (save_pretrained) and {os.path.join(args.out, 'result.json')}")
    if distributed:
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
