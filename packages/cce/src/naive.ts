// The naive linear cross-entropy: logits materialised as an [N, V] tensor and every option composed
// from core ops, differentiated by the tape. It is the reference the fused op is checked against, and
// the baseline of the benchmark.
import * as C from '@cce/core';
import type { Tensor } from '@cce/core';
import { type LinearCrossEntropyOptions, checkShapes, checkShift, checkTargetValues, resolveOptions } from './options.js';

export function shiftTargets(targets: Tensor, shift: number, ignoreIndex: number): Tensor {
  if (shift === 0) return targets;
  const T = targets.shape[targets.rank - 1]!;
  const k = Math.min(shift, T);
  const kept = C.slice(targets, [...targets.shape.slice(0, -1).map(() => 0), k], [...targets.shape.slice(0, -1), T]);
  const pad = C.full([...targets.shape.slice(0, -1), k], ignoreIndex, { dtype: 'i32', backend: targets.backend });
  return C.concat([kept, pad], -1);
}

/** Loss of `e` [..., D] against classifier `c` [V, D] through materialised logits. */
export function naiveLinearCrossEntropy(e: Tensor, c: Tensor, targets: Tensor, options: LinearCrossEntropyOptions = {}): Tensor {
  const o = resolveOptions(options);
  const { N, D, V, T, leading } = checkShapes(e, c, targets, options.bias);
  checkShift(o.shift, T);
  if (targets.hostValues) checkTargetValues(targets.hostValues, V, o.ignoreIndex, targets.shape[targets.rank - 1]!, o.shift);
  let logits = C.matmul(C.reshape(e, [N, D]), c, { transB: true });
  if (options.bias) logits = C.add(logits, options.bias);
  if (o.softcap > 0) logits = C.mulScalar(C.tanh(C.mulScalar(logits, 1 / o.softcap)), o.softcap);
  const t = C.reshape(shiftTargets(targets, o.shift, o.ignoreIndex), [N]);
  const valid = C.compareScalar(t, 'ne', o.ignoreIndex);
  const lse = C.logsumexp(logits);
  let perToken = C.sub(lse, C.mulScalar(C.pick(logits, t, { ignoreIndex: o.ignoreIndex }), 1 - o.labelSmoothing));
  if (o.labelSmoothing > 0) perToken = C.sub(perToken, C.mulScalar(C.sum(logits, -1), o.labelSmoothing / V));
  if (o.zLoss > 0) perToken = C.add(perToken, C.mulScalar(C.mul(lse, lse), o.zLoss));
  // Ignored tokens add exactly nothing (a select, not a product: 0 * NaN would be NaN), as in PyTorch.
  perToken = C.where(valid, perToken, C.zeros([], { backend: e.backend }));
  if (o.reduction === 'none') return C.reshape(perToken, leading);
  const total = C.sum(perToken);
  if (o.reduction === 'sum') return total;
  // A mean over no valid token is 0 / 0 = NaN, as in PyTorch.
  return C.div(total, C.noGrad(() => C.sum(valid)));
}
