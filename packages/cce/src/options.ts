// Options of linearCrossEntropy, their defaults and validation, shared by the fused op and the naive path.
import type { Tensor } from '@cce/core';

export type Reduction = 'mean' | 'sum' | 'none';

export interface LinearCrossEntropyOptions {
  /**
   * [V] added to every logit. A -inf entry masks that vocabulary entry (a vocabulary padded to a multiple
   * of 64, say): it adds nothing to the softmax and gets zero gradients. Under softcap its logit becomes
   * -softcap (still in the softmax; zero gradients); under label smoothing the loss is +inf (the
   * smoothing term averages every logit), as in the naive path.
   */
  bias?: Tensor;
  /** Targets equal to this add nothing and are not counted in the mean (default -100). */
  ignoreIndex?: number;
  reduction?: Reduction;
  /** Position t predicts the target at t + shift within its sequence (the last axis of targets). */
  shift?: number;
  /** Logits become softcap * tanh(logits / softcap). */
  softcap?: number;
  /** ε in [0, 1): (1 - ε) nll + ε mean over the vocabulary of -log p (PyTorch's definition). */
  labelSmoothing?: number;
  /** Adds zLoss * lse² per token. */
  zLoss?: number;
  /**
   * Skip gradient tiles whose every |softmax - onehot| is below this. 'auto' is 2^-24, half an ulp of
   * 1.0 in f32: a skipped term is below the rounding of the target's own term of magnitude ~1. null
   * (default 'auto') turns filtering off.
   */
  filterEps?: 'auto' | number | null;
  /** Order the vocabulary by mean logit so that skippable entries share tiles (default true). */
  sortVocab?: boolean;
  /**
   * Bytes of the backward's softmax - onehot scratch; the dC product may use a quarter as much
   * again for partial sums. A larger scratch means fewer, larger chunks (tokens x entries), so fewer
   * dispatches and busier products (BENCHMARKS.md: 64 MiB runs the GPT-2 shape 10-20% faster). Default: 1/128 of the
   * bytes of the logits it stands in for (N V 4), at most 8 MiB (see defaultScratchBytes).
   */
  scratchBytes?: number;
}

export interface ResolvedOptions {
  ignoreIndex: number;
  reduction: Reduction;
  shift: number;
  softcap: number;
  labelSmoothing: number;
  zLoss: number;
  filterEps: number;
  sortVocab: boolean;
  scratchBytes: number;
}

export const AUTO_FILTER_EPS = 2 ** -24;

/**
 * The default scratch for N tokens and V entries: 1/128 of the logits' bytes, at most 8 MiB. Each
 * chunk of the backward costs a few dispatches whatever its size, so the scratch should be large; the
 * cap keeps the op's extra memory a few MiB at any shape (Gemma 2 2B's logits would give 62 MiB).
 */
export function defaultScratchBytes(N: number, V: number): number {
  return Math.min(8 * 2 ** 20, Math.max(4, Math.floor((N * V * 4) / 128)));
}

/** Every option name linearCrossEntropy takes (the result and statistics options included). */
const KNOWN_OPTIONS = new Set(['bias', 'ignoreIndex', 'reduction', 'shift', 'softcap', 'labelSmoothing', 'zLoss', 'filterEps', 'sortVocab', 'scratchBytes', 'returnLse', 'filterStats']);

/** Options with their defaults; `shape` (tokens and vocabulary) sizes the default scratch. */
export function resolveOptions(opts: LinearCrossEntropyOptions, shape: { N: number; V: number } = { N: 1, V: 1 }): ResolvedOptions {
  const unknown = Object.keys(opts).filter((k) => !KNOWN_OPTIONS.has(k));
  if (unknown.length) {
    throw new Error(`linearCrossEntropy: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')} (known: ${[...KNOWN_OPTIONS].join(', ')})`);
  }
  const eps = opts.filterEps === undefined || opts.filterEps === 'auto' ? AUTO_FILTER_EPS : opts.filterEps === null ? 0 : opts.filterEps;
  const r: ResolvedOptions = {
    ignoreIndex: opts.ignoreIndex ?? -100,
    reduction: opts.reduction ?? 'mean',
    shift: opts.shift ?? 0,
    softcap: opts.softcap ?? 0,
    labelSmoothing: opts.labelSmoothing ?? 0,
    zLoss: opts.zLoss ?? 0,
    filterEps: eps,
    sortVocab: opts.sortVocab ?? true,
    scratchBytes: opts.scratchBytes ?? defaultScratchBytes(shape.N, shape.V),
  };
  const bad = (what: string) => { throw new Error(`linearCrossEntropy: ${what}`); };
  if (!['mean', 'sum', 'none'].includes(r.reduction)) bad(`reduction must be 'mean', 'sum' or 'none', got '${r.reduction}'`);
  if (!Number.isInteger(r.shift) || r.shift < 0) bad(`shift must be a non-negative integer, got ${r.shift}`);
  if (!(r.softcap >= 0) || !Number.isFinite(r.softcap)) bad(`softcap must be a positive number, got ${opts.softcap}`);
  if (!(r.labelSmoothing >= 0 && r.labelSmoothing < 1)) bad(`labelSmoothing must be in [0, 1), got ${r.labelSmoothing}`);
  if (!(r.zLoss >= 0) || !Number.isFinite(r.zLoss)) bad(`zLoss must be >= 0, got ${r.zLoss}`);
  if (!(r.filterEps >= 0) || !Number.isFinite(r.filterEps)) bad(`filterEps must be 'auto', null or a number >= 0, got ${opts.filterEps}`);
  if (!Number.isInteger(r.ignoreIndex)) bad(`ignoreIndex must be an integer, got ${r.ignoreIndex}`);
  if (!(r.scratchBytes >= 4)) bad(`scratchBytes must be at least 4, got ${r.scratchBytes}`);
  return r;
}

export interface Shapes {
  N: number;
  D: number;
  V: number;
  /** Sequence length (the last leading axis), for shift. */
  T: number;
  leading: number[];
}

export function checkShapes(e: Tensor, c: Tensor, targets: Tensor, bias?: Tensor): Shapes {
  const fmt = (t: Tensor) => `[${t.shape.join(', ')}]`;
  const bad = (what: string) => { throw new Error(`linearCrossEntropy: ${what}`); };
  if (e.dtype !== 'f32' || c.dtype !== 'f32') bad(`e and c must be f32, got ${e.dtype} and ${c.dtype}`);
  if (targets.dtype !== 'i32') bad(`targets must be i32, got ${targets.dtype} ${fmt(targets)}`);
  if (e.rank < 2) bad(`e must be [..., D] with at least one leading axis, got ${fmt(e)}`);
  if (c.rank !== 2) bad(`c must be [V, D], got ${fmt(c)}`);
  const D = e.shape[e.rank - 1]!;
  const V = c.shape[0]!;
  if (c.shape[1] !== D) bad(`e ${fmt(e)} and c ${fmt(c)} differ in D`);
  const leading = e.shape.slice(0, -1);
  if (targets.shape.join() !== leading.join()) bad(`targets ${fmt(targets)} must match e's leading dims [${leading.join(', ')}]`);
  if (bias && (bias.dtype !== 'f32' || bias.rank !== 1 || bias.shape[0] !== V)) bad(`bias must be f32 [${V}], got ${bias.dtype} ${fmt(bias)}`);
  if (V === 0) bad('the vocabulary is empty');
  for (const t of [c, targets, ...(bias ? [bias] : [])]) {
    if (t.backend !== e.backend) bad(`inputs live on different backends ('${e.backend.name}' and '${t.backend.name}')`);
  }
  const N = leading.reduce((a, b) => a * b, 1);
  return { N, D, V, T: leading[leading.length - 1]!, leading };
}

/** A shift must leave something to predict in each sequence (the last axis of targets, of length T). */
export function checkShift(shift: number, T: number): void {
  if (shift > 0 && shift >= T) {
    throw new Error(`linearCrossEntropy: shift ${shift} leaves nothing to predict in sequences of length ${T} (the last axis of targets); it must be below ${T}`);
  }
}

/**
 * Throws naming the first target outside [0, V) that is not ignoreIndex (when host values are known).
 * With a shift, the first `shift` positions of each sequence (of length T) are never predicted: skipped.
 */
export function checkTargetValues(values: Int32Array, V: number, ignoreIndex: number, T: number, shift: number): void {
  for (let i = 0; i < values.length; i++) {
    if (i % T < shift) continue;
    const t = values[i]!;
    if (t !== ignoreIndex && (t < 0 || t >= V)) {
      throw new Error(`linearCrossEntropy: target ${t} at position ${i} is outside the vocabulary [0, ${V}) and is not ignoreIndex (${ignoreIndex})`);
    }
  }
}
