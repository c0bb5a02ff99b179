// Causal self-attention (the fused causalAttention op, or composed from core ops), the transformer MLP and the pre-LayerNorm block, with GPT-2's field names (c_attn, c_proj, c_fc, ln_1, ...).
import * as C from '@cce/core';
import type { Tensor } from '@cce/core';
import { Linear, Module } from '../module.js';
import { Dropout, GELU, LayerNorm } from './basic.js';
import { causalAttention } from './fused-attention.js';

export interface BlockOptions {
  backend?: C.Backend;
  /** Seed of the weights' init; each weight draws its own seed from it. */
  seed?: number;
  /** Std of the weights (GPT-2: 0.02). */
  std?: number;
  /** Std of the residual projections (attn.c_proj, mlp.c_proj); GPT-2: 0.02 / sqrt(2 * layers). */
  residualStd?: number;
  dropout?: number;
  /** 'fused' (causalAttention, no scores in memory) or 'composed' (core ops, the B x H x T x T scores in
   *  memory); default: defaultAttention(dropout). */
  attention?: AttentionKind;
}

export type AttentionKind = 'composed' | 'fused';

/** The default attention: fused, unless dropout is on (the fused op has no dropout on the attention weights). */
export const defaultAttention = (dropout = 0): AttentionKind => (dropout > 0 ? 'composed' : 'fused');

const seedAt = (seed: number, i: number) => (Math.imul(seed + 1, 0x9e3779b1) + i * 7919) >>> 0;

const masks = new WeakMap<C.Backend, Map<number, Tensor>>();

/**
 * [T, T] with 0 on and below the diagonal and -inf above it, added to the scores. One kept tensor per
 * backend and length, so a training step uploads nothing for it.
 */
export function causalMask(T: number, backend: C.Backend): Tensor {
  let byLength = masks.get(backend);
  if (!byLength) masks.set(backend, (byLength = new Map()));
  const cached = byLength.get(T);
  if (cached && !cached.disposed) return cached;
  const data = new Float32Array(T * T);
  for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) data[i * T + j] = -Infinity;
  const mask = C.keep(C.tensor(data, [T, T], { backend }));
  byLength.set(T, mask);
  return mask;
}

/**
 * x [B, T, d] -> [B, T, d]. c_attn [d, 3d] gives q | k | v columns (GPT-2's layout), split into heads
 * by reshape and permute; scores q kᵀ / sqrt(dh) with -inf above the diagonal; softmax; weighted sum of
 * v; heads merged; c_proj [d, d].
 */
export class CausalSelfAttention extends Module {
  readonly c_attn: Linear;
  readonly c_proj: Linear;
  readonly attnDropout: Dropout;
  readonly residDropout: Dropout;
  readonly headDim: number;
  readonly attention: AttentionKind;

  constructor(readonly dim: number, readonly heads: number, opts: BlockOptions = {}) {
    super();
    this.attention = opts.attention ?? defaultAttention(opts.dropout);
    if (this.attention !== 'composed' && this.attention !== 'fused') throw new RangeError(`CausalSelfAttention: attention must be 'composed' or 'fused', got '${this.attention}'`);
    // The fused op has no dropout on the attention weights.
    if (this.attention === 'fused' && (opts.dropout ?? 0) > 0) throw new RangeError(`CausalSelfAttention: fused attention has no attention dropout; dropout ${opts.dropout} needs attention 'composed'`);
    if (!Number.isInteger(heads) || heads <= 0 || dim % heads !== 0) throw new RangeError(`CausalSelfAttention: dim ${dim} is not a multiple of heads ${heads}`);
    this.headDim = dim / heads;
    const seed = opts.seed ?? 0;
    this.c_attn = new Linear(dim, 3 * dim, { std: opts.std ?? 0.02, seed: seedAt(seed, 0), backend: opts.backend });
    this.c_proj = new Linear(dim, dim, { std: opts.residualStd ?? opts.std ?? 0.02, seed: seedAt(seed, 1), backend: opts.backend });
    this.attnDropout = new Dropout(opts.dropout ?? 0, seedAt(seed, 2));
    this.residDropout = new Dropout(opts.dropout ?? 0, seedAt(seed, 3));
  }

  forward(x: Tensor): Tensor {
    if (x.rank !== 3 || x.shape[2] !== this.dim) throw new Error(`CausalSelfAttention: input must be [B, T, ${this.dim}], got [${x.shape}]`);
    const [B, T] = x.shape as [number, number, number];
    const d = this.dim, H = this.heads, dh = this.headDim;
    const qkv = this.c_attn.forward(x); // [B, T, 3d]
    const head = (i: number) => C.permute(C.reshape(C.slice(qkv, [0, 0, i * d], [B, T, (i + 1) * d]), [B, T, H, dh]), [0, 2, 1, 3]); // [B, H, T, dh]
    const q = head(0), k = head(1), v = head(2);
    if (this.attention === 'fused') return this.residDropout.forward(this.c_proj.forward(C.reshape(C.permute(causalAttention(q, k, v), [0, 2, 1, 3]), [B, T, d])));
    const scores = C.add(C.mulScalar(C.matmul(q, k, { transB: true }), 1 / Math.sqrt(dh)), causalMask(T, x.backend)); // [B, H, T, T]
    const att = this.attnDropout.forward(C.softmax(scores, -1));
    const y = C.reshape(C.permute(C.matmul(att, v), [0, 2, 1, 3]), [B, T, d]);
    return this.residDropout.forward(this.c_proj.forward(y));
  }
}

/** d -> 4d -> GELU -> d. */
export class FeedForward extends Module {
  readonly c_fc: Linear;
  readonly act = new GELU();
  readonly c_proj: Linear;
  readonly dropout: Dropout;

  constructor(readonly dim: number, opts: BlockOptions = {}) {
    super();
    const seed = opts.seed ?? 0;
    this.c_fc = new Linear(dim, 4 * dim, { std: opts.std ?? 0.02, seed: seedAt(seed, 10), backend: opts.backend });
    this.c_proj = new Linear(4 * dim, dim, { std: opts.residualStd ?? opts.std ?? 0.02, seed: seedAt(seed, 11), backend: opts.backend });
    this.dropout = new Dropout(opts.dropout ?? 0, seedAt(seed, 12));
  }

  forward(x: Tensor): Tensor {
    return this.dropout.forward(this.c_proj.forward(this.act.forward(this.c_fc.forward(x))));
  }
}

/** Pre-LN transformer block: x + attn(ln_1(x)), then x + mlp(ln_2(x)). */
export class Block extends Module {
  readonly ln_1: LayerNorm;
  readonly attn: CausalSelfAttention;
  readonly ln_2: LayerNorm;
  readonly mlp: FeedForward;

  constructor(readonly dim: number, readonly heads: number, opts: BlockOptions = {}) {
    super();
    this.ln_1 = new LayerNorm(dim, 1e-5, { backend: opts.backend });
    this.attn = new CausalSelfAttention(dim, heads, opts);
    this.ln_2 = new LayerNorm(dim, 1e-5, { backend: opts.backend });
    this.mlp = new FeedForward(dim, opts);
  }

  forward(x: Tensor): Tensor {
    const h = C.add(x, this.attn.forward(this.ln_1.forward(x)));
    return C.add(h, this.mlp.forward(this.ln_2.forward(h)));
  }
}
