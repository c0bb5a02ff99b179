#!/usr/bin/env python3
"""Checks a `pnpm train` checkpoint in Hugging Face transformers: logits of GPT2LMHeadModel against ours.

    python examples/pytorch/check_logits.py --ckpt runs/gpt/checkpoint --logits runs/gpt/logits.safetensors

FILE is written by `pnpm sample --write-logits FILE` and holds `input_ids` (I32 [B, T]) and `logits`
(F32 [B, T, V]: every position, padding rows of the vocabulary included). The checkpoint is loaded from
the local directory only (nothing is downloaded), in float32, eager attention, eval mode; it is run on
input_ids and its logits compared with ours. Exits 1, saying what differs, when they do not agree.
"""
import argparse
import json
import os

# Same directory: `python examples/pytorch/check_logits.py` puts it on sys.path.
from cce_common import HARMLESS_MISSING, fail

# Tolerance: |ours - theirs| <= atol + rtol * |theirs| elementwise (torch.allclose's rule). Logits of
# these models are O(1..10); both sides compute in IEEE fp32 but sum in different orders (our kernels'
# tiling vs MKL / cuBLAS), which moves each dot product by a few ulps of its largest partial sums and
# compounds through the layers: ~1e-5..1e-4 observed for models of this size. 1e-3 absolute plus 1e-4
# relative stays well above that and far below what a real bug moves (a transposed Conv1D weight, a
# wrong GELU or LayerNorm eps, a missing position embedding: differences of 0.1 and more).
DEFAULT_ATOL = 1e-3
DEFAULT_RTOL = 1e-4

def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Compare the logits GPT2LMHeadModel computes from a pnpm train checkpoint with the logits pnpm sample wrote.")
    p.add_argument("--ckpt", required=True, metavar="DIR", help="checkpoint directory (model.safetensors and config.json), e.g. runs/gpt/checkpoint")
    p.add_argument("--logits", required=True, metavar="FILE", help="safetensors file of pnpm sample --write-logits (input_ids I32 [B,T], logits F32 [B,T,V])")
    p.add_argument("--atol", type=float, default=DEFAULT_ATOL, help=f"absolute tolerance (default {DEFAULT_ATOL})")
    p.add_argument("--rtol", type=float, default=DEFAULT_RTOL, help=f"relative tolerance (default {DEFAULT_RTOL})")
    p.add_argument("--device", default="cpu", help="torch device for the reference (default cpu: deterministic IEEE fp32)")
    a = p.parse_args(argv)
    if not (a.atol >= 0 and a.rtol >= 0):
        p.error("--atol and --rtol must be non-negative")
    return a


def load_model(ckpt, torch):
    from transformers import GPT2LMHeadModel

    for f in ("config.json", "model.safetensors"):
        if not os.path.isfile(os.path.join(ckpt, f)):
            fail(f"{ckpt}: {f} is missing (expected a pnpm train checkpoint directory)")
    model, info = GPT2LMHeadModel.from_pretrained(ckpt, local_files_only=True, output_loading_info=True, attn_implementation="eager")
    # from_pretrained initialises missing weights at random with only a warning: refuse that here.
    missing = [k for k in info.get("missing_keys", []) if not HARMLESS_MISSING.match(k)]
    bad = missing + list(info.get("unexpected_keys", [])) + [str(m) for m in info.get("mismatched_keys", [])]
    if bad:
        fail(f"{ckpt}: the checkpoint does not match GPT2LMHeadModel: missing {missing}, unexpected {info.get('unexpected_keys')}, mismatched {info.get('mismatched_keys')}")
    return model.float().eval()


def main(argv=None):
    args = parse_args(argv)
    try:
        import torch
        from safetensors import safe_open
    except ImportError as e:
        fail(f"needs torch, safetensors and transformers ({e})")
    if args.device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False

    if not os.path.isfile(args.logits):
        fail(f"{args.logits}: no such file (write it with pnpm sample --ckpt DIR --write-logits FILE)")
    with safe_open(args.logits, framework="pt") as f:
        names = set(f.keys())
        if not {"input_ids", "logits"} <= names:
            fail(f"{args.logits}: holds {sorted(names)}, expected input_ids and logits")
        metadata = f.metadata() or {}
        ids = f.get_tensor("input_ids")
        ours = f.get_tensor("logits")
    if ids.dtype != torch.int32 or ids.dim() != 2:
        fail(f"{args.logits}: input_ids is {ids.dtype} {list(ids.shape)}, expected int32 [B, T]")
    if ours.dtype != torch.float32 or ours.dim() != 3 or list(ours.shape[:2]) != list(ids.shape):
        fail(f"{args.logits}: logits is {ours.dtype} {list(ours.shape)}, expected float32 [B, T, V] with [B, T] = {list(ids.shape)}")
    B, T, V = ours.shape

    model = load_model(args.ckpt, torch)
    cfg = model.config
    # The config must be the one the file implies: its vocabulary (padded rows included), room for T
    # positions, and the classifier tied to wte (no lm_head in the checkpoint).
    problems = []
    if cfg.vocab_size != V:
        problems.append(f"config vocab_size {cfg.vocab_size} but the logits have {V} columns")
    if cfg.n_positions < T:
        problems.append(f"config n_positions {cfg.n_positions} < the file's sequence length {T}")
    if not getattr(cfg, "tie_word_embeddings", False) or model.lm_head.weight.data_ptr() != model.transformer.wte.weight.data_ptr():
        problems.append("lm_head.weight is not tied to transformer.wte.weight")
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= V):
        problems.append(f"input_ids outside [0, {V})")
    if problems:
        fail(f"{args.ckpt} vs {args.logits}: " + "; ".join(problems))

    device = torch.device(args.device)
    model.to(device)
    with torch.no_grad():
        theirs = model(input_ids=ids.long().to(device)).logits.float().cpu()

    diff = (ours - theirs).abs()
    max_abs = diff.max().item()
    rel = diff / theirs.abs().clamp_min(1e-6)
    max_rel = rel.max().item()
    allowed = args.atol + args.rtol * theirs.abs()
    over = diff > allowed
    agree = (ours.argmax(-1) == theirs.argmax(-1)).float().mean().item()
    result = {
        "ckpt": args.ckpt, "logits": args.logits, "metadata": metadata, "batch": B, "length": T, "vocab": V,
        "maxAbsDiff": max_abs, "maxRelDiff": max_rel, "maxAbsLogit": theirs.abs().max().item(),
        "argmaxAgreement": agree, "outOfTolerance": int(over.sum().item()), "atol": args.atol, "rtol": args.rtol,
    }
    print(f"logits [{B}, {T}, {V}]: max abs diff {max_abs:.3e}, max rel diff {max_rel:.3e} (largest |logit| {result['maxAbsLogit']:.2f}), "
          f"argmax agreement {agree * 100:.2f}% of {B * T} positions")
    print(json.dumps(result))
    finite = torch.isfinite(ours) & torch.isfinite(theirs)
    if not finite.all():
        fail(f"MISMATCH: {int((~finite).sum())} logits are not finite (NaN or infinite) in ours or transformers'")
    if over.any():
        worst = int((diff - allowed).flatten().argmax())
        b, rest = divmod(worst, T * V)
        t, v = divmod(rest, V)
        fail(f"MISMATCH: {result['outOfTolerance']} of {ours.numel()} logits differ by more than atol {args.atol} + rtol {args.rtol} * |logit|; "
             f"worst at [batch {b}, position {t}, id {v}]: ours {ours[b, t, v].item():.6f}, transformers {theirs[b, t, v].item():.6f}")
    if agree < 1:
        # Every logit within tolerance yet another argmax: the top two logits there are closer than the
        # tolerance (a near tie), not a disagreement of the models.
        print(f"note: the argmax differs at {round((1 - agree) * B * T)} positions, all logits within tolerance (near ties)")
    print("OK: transformers' GPT2LMHeadModel computes our logits from our checkpoint")


if __name__ == "__main__":
    main()
