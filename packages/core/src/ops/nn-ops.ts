// Neural-network ops over the last axis: logsumexp, softmax, log-softmax, layer norm, and the naive
// cross-entropy over materialised logits (the reference that Cut Cross-Entropy is checked against).
import { record, noGrad } from '../autograd/record.js';
import { Tensor } from '../tensor.js';
import { rowRstdKernel } from './kernels.js';
import { runVariant } from './variants.js';
import type { RowReduction } from './reduce.js';
import { runMap } from './launch.js';
import { fmt, normalizeAxis, requireDtype, requireSameBackend } from './shape-utils.js';
import { permute } from './shape-ops.js';
import { add, compareScalar, div, exp, mapElementwise, mul, sub, where } from './elementwise.js';
import { sum } from './reduce.js';
import { checkHostIds, pick } from './index-ops.js';
import { full } from './creation.js';

const lastAxisRows = (x: Tensor) => x.shape[x.rank - 1]!;

/** log Σ exp(x) over `axis` (default the last), kept as a size-1 dim when keepDims. */
export function logsumexp(x: Tensor, axis = -1, opts: { keepDims?: boolean } = {}): Tensor {
  requireDtype('logsumexp', x, 'f32');
  const a = normalizeAxis('logsumexp', axis, x.rank);
  if (x.shape[a] === 0) throw new Error(`logsumexp: axis ${a} of ${fmt(x.shape)} is empty`);
  if (a !== x.rank - 1) {
    const perm = x.shape.map((_, i) => i).filter((i) => i !== a).concat(a);
    const moved = permute(x, perm);
    const r = logsumexp(moved, -1, opts);
    if (!opts.keepDims) return r;
    // keepDims along an inner axis: [..., 1] in moved order back to x's order.
    const back = perm.map((_, i) => perm.indexOf(i));
    return permute(r, back);
  }
  const shape = opts.keepDims ? [...x.shape.slice(0, -1), 1] : x.shape.slice(0, -1);
  const out = Tensor.empty(shape, 'f32', x.backend, 'logsumexp');
  if (out.size > 0) runVariant<RowReduction>('reduceRows', x.backend, { kind: 'logsumexp', src: x, out, K: lastAxisRows(x), scale: 1 });
  return record('logsumexp', [x], out, {});
}

export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return sub(x, logsumexp(x, axis, { keepDims: true }));
}

export function softmax(x: Tensor, axis = -1): Tensor {
  return exp(logSoftmax(x, axis));
}

/** (x - mean) * rstd, broadcasting per-row statistics. */
export function layerNormApply(x: Tensor, mean: Tensor, rstd: Tensor): Tensor {
  return mapElementwise('layernorm_apply', [x, mean, rstd], 'f32', ([v, m, r]) => v!.sub(m!).mul(r!));
}

/** (x - mean) / sqrt(var + eps) over the last axis, times weight plus bias when given. */
export function layerNorm(x: Tensor, weight?: Tensor, bias?: Tensor, eps = 1e-5): Tensor {
  requireDtype('layerNorm', x, 'f32');
  if (x.rank < 1 || lastAxisRows(x) === 0) throw new Error(`layerNorm: needs a non-empty last axis, got ${fmt(x.shape)}`);
  const K = lastAxisRows(x);
  for (const p of [weight, bias]) {
    if (p && (p.rank !== 1 || p.shape[0] !== K)) throw new Error(`layerNorm: weight and bias must be [${K}], got ${fmt(p.shape)}`);
  }
  const statShape = [...x.shape.slice(0, -1), 1];
  const mean = Tensor.empty(statShape, 'f32', x.backend, 'layerNorm');
  runVariant<RowReduction>('reduceRows', x.backend, { kind: 'sum', src: x, out: mean, K, scale: 1 / K });
  const rstd = Tensor.empty(statShape, 'f32', x.backend, 'layerNorm');
  runMap(rowRstdKernel(), rstd, { src: x, mean }, { K, eps });
  const normalized = layerNormApply(x, mean, rstd);
  let y = record('layerNorm', [x], normalized, { eps }, [mean, rstd]);
  if (weight) y = mul(y, weight);
  if (bias) y = add(y, bias);
  return y;
}

export interface CrossEntropyOptions {
  /** Targets equal to this add nothing and are not counted in the mean (default -100). */
  ignoreIndex?: number;
  reduction?: 'mean' | 'sum' | 'none';
}

/**
 * Cross-entropy of logits [N, V] against targets i32 [N], computed naively from materialised logits:
 * loss_i = logsumexp(logits_i) - logits_i[t_i], exactly 0 for an ignored target. The mean divides by the
 * number of non-ignored targets; over none it is 0 / 0 = NaN, with zero gradients (PyTorch's results).
 * Host-known targets must lie in [0, V) or equal ignoreIndex (checked before any kernel runs); a
 * device-computed target outside gives that token a NaN loss.
 */
export function crossEntropy(logits: Tensor, targets: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const ignoreIndex = opts.ignoreIndex ?? -100;
  const reduction = opts.reduction ?? 'mean';
  requireDtype('crossEntropy', logits, 'f32', 'logits');
  requireDtype('crossEntropy', targets, 'i32', 'targets');
  requireSameBackend('crossEntropy', logits, targets);
  if (logits.rank !== 2 || targets.rank !== 1 || targets.shape[0] !== logits.shape[0]) {
    throw new Error(`crossEntropy: logits must be [N, V] and targets [N], got ${fmt(logits.shape)} and ${fmt(targets.shape)}`);
  }
  const V = logits.shape[1]!;
  checkHostIds('crossEntropy', targets, V, 'target', 'the classes of logits', (t) => t === ignoreIndex, ` and is not ignoreIndex (${ignoreIndex})`);
  const valid = compareScalar(targets, 'ne', ignoreIndex);
  // A select, not a product: an ignored token adds exactly nothing, and its gradient stays 0 when the
  // mean's divisor is 0 (0 * Infinity would be NaN).
  const zero = full([], 0, { backend: logits.backend });
  const perToken = where(valid, sub(logsumexp(logits), pick(logits, targets, { ignoreIndex })), zero);
  if (reduction === 'none') return perToken;
  const total = sum(perToken);
  if (reduction === 'sum') return total;
  return div(total, noGrad(() => sum(valid)));
}
