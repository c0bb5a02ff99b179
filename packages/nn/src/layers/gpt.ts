// GPT: token embedding + learned positions, pre-LN blocks, a final LayerNorm and a classifier tied to
// the token embedding. The loss is CCE over the final hidden states with shift 1 (no logits, no shifted
// copies). Field names follow GPT-2's, so namedParameters() are the Hugging Face names without the
// leading `transformer.` (see gpt2Names).
import * as C from '@cce/core';
import type { Tensor } from '@cce/core';
import { type LinearCrossEntropyOptions, linearCrossEntropy } from '@cce/cce';
import { Module } from '../module.js';
import { Dropout, Embedding, LayerNorm } from './basic.js';
import { type AttentionKind, Block, defaultAttention } from './attention.js';
import { padVocab } from '../data/tokenizer.js';

export interface GPTConfig {
  /** Rows of the embedding (the tokenizer's vocabulary padded to a multiple of 64). */
  vocabSize: number;
  /** The longest sequence (rows of the position embedding). */
  contextLength: number;
  layers: number;
  heads: number;
  dim: number;
  /** Dropout probability (embeddings, attention weights, residual branches); default 0. */
  dropout?: number;
  /** The attention: 'fused' (causalAttention, no scores in memory) or 'composed' from core ops; default
   *  fused, composed when dropout is on. */
  attention?: AttentionKind;
}

export interface GPTPreset {
  layers: number;
  heads: number;
  dim: number;
  contextLength: number;
  batchSize: number;
}

export const GPT_PRESETS = {
  micro: { layers: 2, heads: 2, dim: 64, contextLength: 64, batchSize: 8 },
  tiny: { layers: 4, heads: 4, dim: 256, contextLength: 128, batchSize: 16 },
  small: { layers: 6, heads: 6, dim: 384, contextLength: 256, batchSize: 32 },
} as const satisfies Record<string, GPTPreset>;

export type GPTPresetName = keyof typeof GPT_PRESETS;

/** A preset's model config for a tokenizer of `tokenizerVocab` ids, plus its batch size. */
export function gptConfig(name: GPTPresetName, tokenizerVocab: number, opts: { dropout?: number; attention?: AttentionKind } = {}): GPTConfig & { batchSize: number } {
  const p = GPT_PRESETS[name] as GPTPreset | undefined;
  if (!p) throw new RangeError(`gptConfig: unknown config '${String(name)}' (use ${Object.keys(GPT_PRESETS).join(', ')})`);
  return { vocabSize: padVocab(tokenizerVocab), contextLength: p.contextLength, layers: p.layers, heads: p.heads, dim: p.dim, dropout: opts.dropout ?? 0, attention: opts.attention ?? defaultAttention(opts.dropout), batchSize: p.batchSize };
}

/** The number of parameters of a config (the tied classifier counted once). */
export function gptParameterCount(c: GPTConfig): number {
  const d = c.dim;
  const block = 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + 2 * d + (d * 4 * d + 4 * d) + (4 * d * d + d);
  return c.vocabSize * d + c.contextLength * d + c.layers * block + 2 * d;
}

/**
 * The largest tensors a training step of `batch` windows makes, in bytes, and whether each must fit one
 * storage binding (the ops that make or read it are not windowed): the attention scores, the fused q|k|v
 * projection, the MLP's hidden layer, and the token embedding (windowed, but one buffer).
 */
export function gptStepTensors(c: GPTConfig, batch: number): { name: string; bytes: number; oneBinding: boolean }[] {
  const T = c.contextLength;
  const rows = batch * T;
  return [
    // The fused attention never forms the scores.
    ...(c.attention === 'fused' ? [] : [{ name: `attention scores [${batch}, ${c.heads}, ${T}, ${T}]`, bytes: batch * c.heads * T * T * 4, oneBinding: true }]),
    { name: `q|k|v projection [${batch}, ${T}, ${3 * c.dim}]`, bytes: rows * 3 * c.dim * 4, oneBinding: true },
    { name: `MLP hidden layer [${batch}, ${T}, ${4 * c.dim}]`, bytes: rows * 4 * c.dim * 4, oneBinding: true },
    { name: `token embedding [${c.vocabSize}, ${c.dim}]`, bytes: c.vocabSize * c.dim * 4, oneBinding: false },
  ];
}

/** A config and batch too large for the device (checkGptFits). */
export class GptFitError extends RangeError {
  override name = 'GptFitError';
}

/** Refuses, before anything is allocated, a config and batch whose step tensors exceed the device's
 *  largest buffer or (where an op needs it) its largest storage binding, naming the tensor and the limit. */
export function checkGptFits(c: GPTConfig, batch: number, backend: C.Backend): void {
  const { maxBufferSize, maxStorageBufferBindingSize } = backend.capabilities.limits;
  for (const t of gptStepTensors(c, batch)) {
    const limit = t.oneBinding ? Math.min(maxStorageBufferBindingSize, maxBufferSize) : maxBufferSize;
    if (t.bytes > limit) {
      throw new GptFitError(`GPT: the ${t.name} takes ${t.bytes} bytes, more than the ${t.oneBinding ? 'largest storage binding' : 'largest buffer'} ` +
        `of backend '${backend.name}' (${limit} bytes)${t.oneBinding ? '; a smaller --batch or config fits' : '; a smaller vocabulary or dim fits'}`);
    }
  }
}

/** Our parameter name -> GPT-2's (Hugging Face) tensor name. */
export const gpt2Name = (name: string): string => `transformer.${name}`;

export interface GPTOptions {
  seed?: number;
  backend?: C.Backend;
  /** Extra options of the loss (ignoreIndex, filterEps, ...; scratchBytes default 16 MiB, sortVocab default false); shift is always 1. */
  loss?: Omit<LinearCrossEntropyOptions, 'shift'>;
}

export class GPT extends Module {
  readonly wte: Embedding;
  readonly wpe: Embedding;
  readonly drop: Dropout;
  readonly h: Block[];
  readonly ln_f: LayerNorm;
  readonly config: Readonly<GPTConfig>;
  private readonly lossOptions: Omit<LinearCrossEntropyOptions, 'shift'>;

  constructor(config: GPTConfig, opts: GPTOptions = {}) {
    super();
    const { vocabSize: V, contextLength, layers, heads, dim } = config;
    for (const [k, v] of Object.entries({ vocabSize: V, contextLength, layers, heads, dim })) {
      if (!Number.isInteger(v) || v <= 0) throw new RangeError(`GPT: ${k} must be a positive integer, got ${v}`);
    }
    if (dim % heads !== 0) throw new RangeError(`GPT: dim ${dim} is not a multiple of heads ${heads}`);
    this.config = { ...config, dropout: config.dropout ?? 0 };
    // A training step pays ~40 us of host time per dispatch, so the loss takes fewer, larger ones than
    // CCE's defaults: a 16 MiB scratch (its backward walks the vocabulary in chunks of that size,
    // a few dispatches each; the default is at most 8 MiB) and no vocabulary sort (136 bitonic passes
    // at vocabulary 50304, which bought no GPU time here). bench/train-step.ts on the H200, tiny:
    // 1247 dispatches and 65 ms a step with the defaults, 655 and 27 ms with these.
    this.lossOptions = { scratchBytes: 16 * 2 ** 20, sortVocab: false, ...opts.loss };
    const seed = opts.seed ?? 0;
    const rng = C.mulberry32(seed);
    const nextSeed = () => Math.floor(rng() * 2 ** 32) >>> 0;
    const backend = opts.backend;
    this.wte = new Embedding(V, dim, { std: 0.02, seed: nextSeed(), backend });
    this.wpe = new Embedding(contextLength, dim, { std: 0.02, seed: nextSeed(), backend });
    this.drop = new Dropout(this.config.dropout, nextSeed());
    const residualStd = 0.02 / Math.sqrt(2 * layers);
    this.h = Array.from({ length: layers }, () => new Block(dim, heads, { backend, seed: nextSeed(), std: 0.02, residualStd, dropout: this.config.dropout, attention: config.attention }));
    this.ln_f = new LayerNorm(dim, 1e-5, { backend });
  }

  /** The dropout generators' positions, in modules() order (for a checkpoint, so --resume draws the same masks). */
  dropoutState(): number[] {
    return this.modules().filter((m): m is Dropout => m instanceof Dropout).map((m) => m.rngState);
  }

  setDropoutState(state: readonly number[]): void {
    const drops = this.modules().filter((m): m is Dropout => m instanceof Dropout);
    if (state.length !== drops.length || state.some((v) => !Number.isSafeInteger(v) || v < 0)) {
      throw new Error(`GPT.setDropoutState: expected ${drops.length} non-negative integers, got [${state.join(', ')}]`);
    }
    drops.forEach((m, i) => (m.rngState = state[i]!));
  }

  /** The classifier, tied to the token embedding: [V, d]. */
  get classifier(): Tensor {
    return this.wte.weight;
  }

  private checkIds(ids: Tensor): void {
    if (ids.dtype !== 'i32' || ids.rank !== 2) throw new Error(`GPT: ids must be i32 [B, T], got ${ids.dtype} [${ids.shape}]`);
    const T = ids.shape[1]!;
    if (T < 1 || T > this.config.contextLength) throw new Error(`GPT: sequence length ${T} is outside [1, ${this.config.contextLength}] (the context length)`);
  }

  /** ids i32 [B, T] -> final hidden states [B, T, d] (after ln_f). */
  hidden(ids: Tensor): Tensor {
    this.checkIds(ids);
    const T = ids.shape[1]!;
    const d = this.config.dim;
    const pos = C.slice(this.wpe.weight, [0, 0], [T, d]); // [T, d], broadcast over the batch
    let x = this.drop.forward(C.add(this.wte.forward(ids), pos));
    for (const block of this.h) x = block.forward(x);
    return this.ln_f.forward(x);
  }

  /**
   * The mean next-token cross-entropy over ids [B, T]: position t predicts ids[:, t + 1], by
   * linearCrossEntropy of the hidden states against the tied embedding with shift 1.
   */
  loss(ids: Tensor): Tensor {
    return linearCrossEntropy(this.hidden(ids), this.classifier, ids, { ...this.lossOptions, shift: 1 });
  }

  /**
   * Logits (padding rows included): of the last position only, [B, V], for sampling; or with
   * `{ all: true }` of every position, [B, T, V] (to compare with another implementation).
   */
  logits(ids: Tensor, opts: { all?: boolean } = {}): Tensor {
    const h = this.hidden(ids);
    const [B, T, d] = h.shape as [number, number, number];
    if (opts.all) return C.reshape(C.matmul(C.reshape(h, [B * T, d]), this.classifier, { transB: true }), [B, T, this.config.vocabSize]);
    const last = C.reshape(C.slice(h, [0, T - 1, 0], [B, T, d]), [B, d]);
    return C.matmul(last, this.classifier, { transB: true });
  }
}
