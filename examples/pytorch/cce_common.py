"""Shared by the PyTorch scripts (check_logits.py, continue_training.py and ../../bench/torch_gpt.py):
the exit-with-a-message helper, mulberry32 and the validation windows of `pnpm train`, the token cache
reader and the checkpoint keys transformers may report missing.

Pure Python: nothing here imports torch, and numpy is passed to read_token_cache by its caller, so the
scripts' --help stays fast and works without either installed. The examples import this module from
their own directory (`python examples/pytorch/x.py` and torchrun put it on sys.path); bench/torch_gpt.py
adds this directory to sys.path first.
"""
import json
import math
import os
import re
import sys

# validationBatches (packages/nn/src/data): 40 windows drawn with mulberry32(1234).
VAL_WINDOWS = 40
VAL_SEED = 1234
MASK32 = 0xFFFFFFFF

# Keys transformers may report missing without anything being wrong: the tied classifier and, in older
# versions, the attention mask buffers.
HARMLESS_MISSING = re.compile(r"^(lm_head\.weight|.*\.attn\.(masked_)?bias)$")


def fail(msg):
    """Prints `<script>: msg` to stderr (the script being the one that was run) and exits 1."""
    print(f"{os.path.basename(sys.argv[0])}: {msg}", file=sys.stderr)
    sys.exit(1)


def _imul(a, b):
    """Math.imul on unsigned 32-bit values: the low 32 bits of the product (the sign does not matter
    for the bits, so everything is kept as an unsigned int in [0, 2^32))."""
    return (a * b) & MASK32


def mulberry32(seed):
    """packages/core/src/random.ts mulberry32: a function returning floats in [0, 1), bit for bit the
    same sequence as the TypeScript one (JavaScript's int32 arithmetic done mod 2^32)."""
    state = seed & MASK32  # seed >>> 0

    def next_float():
        nonlocal state
        state = (state + 0x6D2B79F5) & MASK32
        t = state
        t = _imul(t ^ (t >> 15), t | 1)
        t ^= (t + _imul(t ^ (t >> 7), t | 61)) & MASK32
        return ((t ^ (t >> 14)) & MASK32) / 4294967296.0

    return next_float


def window_starts(n_tokens, context, count, rng):
    """`count` window starts floor(rng() * (n - T)), as BatchSampler.next and validationBatches draw them
    (the largest, n - T - 1, still leaves a window of T + 1 tokens)."""
    windows = n_tokens - context
    return [math.floor(rng() * windows) for _ in range(count)]


def val_starts(n_tokens, context):
    """validationBatches' 40 window starts: floor(rng() * (n - T)) with mulberry32(1234)."""
    return window_starts(n_tokens, context, VAL_WINDOWS, mulberry32(VAL_SEED))


def read_token_cache(entry, np):
    """meta.json, train ids, val ids (numpy int64) of a token cache entry directory; exits naming the
    problem when the directory is not one. `np` is the numpy module (the caller imports it)."""
    meta_path = os.path.join(entry, "meta.json")
    if not os.path.isfile(meta_path):
        fail(f"{entry}: no meta.json; --tokens takes a token cache entry directory "
             "($CCE_CACHE_DIR or ~/.cache/cce/tokens, then <entry>; `pnpm train` creates it)")
    with open(meta_path, encoding="utf-8") as f:
        meta = json.load(f)
    if meta.get("format") != "cce-tokens-v1":
        fail(f"{meta_path}: format {meta.get('format')!r}, expected 'cce-tokens-v1'")
    dtypes = {"uint16": "<u2", "int32": "<i4"}
    if meta.get("dtype") not in dtypes or meta.get("endianness") != "little":
        fail(f"{meta_path}: dtype {meta.get('dtype')!r} / endianness {meta.get('endianness')!r} not supported")
    vocab = meta.get("modelVocabSize")
    if not isinstance(vocab, int) or vocab <= 0:
        fail(f"{meta_path}: modelVocabSize {vocab!r} is not a positive integer")
    dt = np.dtype(dtypes[meta["dtype"]])
    splits = []
    for split in ("train", "val"):
        part = meta.get(split) or {}
        path = os.path.join(entry, part.get("file", f"{split}.bin"))
        n = part.get("tokens")
        if not os.path.isfile(path):
            fail(f"{path} is missing")
        size = os.path.getsize(path)
        if not isinstance(n, int) or size != n * dt.itemsize:
            fail(f"{path}: {size} bytes, meta.json says {n} {meta['dtype']} tokens")
        ids = np.fromfile(path, dtype=dt).astype(np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= vocab):
            fail(f"{path}: ids outside [0, {vocab}) (modelVocabSize)")
        splits.append(ids)
    return meta, splits[0], splits[1]
