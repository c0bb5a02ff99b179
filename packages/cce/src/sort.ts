// Vocabulary sorting by mean logit, as an index permutation (C is never copied). The mean logit of entry
// v over the tokens is c_v · mean(e) + b_v, a matrix-vector product: no float atomics needed. The
// indices are then sorted on the device by a bitonic network of map kernels.
import * as C from '@cce/core';
import type { Tensor } from '@cce/core';
import { bitonicPassKernel, colSumKernel, iotaKernel, rowDotKernel, scaleKernel } from './kernels/simple.js';

/** perm [P >= V] (P a power of two): vocabulary entries by descending key; entries >= V are padding. */
export function sortedPermutation(key: Tensor, V: number): Tensor {
  let P = 1;
  while (P < V) P *= 2;
  const backend = key.backend;
  let cur = C.runMap(iotaKernel(), C.Tensor.empty([P], 'i32', backend), {});
  for (let k = 2; k <= P; k *= 2) {
    for (let j = k / 2; j >= 1; j /= 2) {
      const next = C.runMap(bitonicPassKernel(), C.Tensor.empty([P], 'i32', backend), { src: cur, key }, { V, k, j });
      cur.dispose();
      cur = next;
    }
  }
  return cur;
}

/** The identity permutation [V]. */
export function identityPermutation(V: number, backend: C.Backend): Tensor {
  return C.runMap(iotaKernel(), C.Tensor.empty([V], 'i32', backend), {});
}

/** Rows per group in columnSums: enough groups to fill a GPU, short serial loops. */
const SUM_GROUP_ROWS = 128;

/**
 * [D]: Σ_v x[v, d] over the V rows of x (a tensor or a window of one), in two passes: column sums of
 * groups of rows, then of the groups (one serial loop over all rows would leave a GPU nearly idle).
 */
export function columnSums(x: C.BufferArg, V: number, D: number, backend: C.Backend): Tensor {
  if (V === 0) return C.zeros([D], { backend });
  return C.scopeSync(() => {
    let src = x;
    let rows = V;
    do {
      const groups = Math.ceil(rows / SUM_GROUP_ROWS);
      src = C.runMap(colSumKernel(), C.Tensor.empty([groups, D], 'f32', backend), { c: src }, { V: rows, D, R: SUM_GROUP_ROWS });
      rows = groups;
    } while (rows > 1);
    return C.reshape(src as Tensor, [D]);
  });
}

/**
 * N times the mean logit, Σ_i e_i · c_v + N b_v, for the V rows of c (a tensor or a window of one), from
 * e [N, D]: the column sums of e (no transposed copy of e), then one dot product per row. Scaling by N
 * does not change the order.
 */
export function meanLogits(e2d: Tensor, c: C.BufferArg, bias: C.BufferArg | null, V: number): Tensor {
  return C.scopeSync(() => {
    const [N, D] = e2d.shape as [number, number];
    const eSum = columnSums(e2d, N, D, e2d.backend);
    const scaledBias = bias ? C.runMap(scaleKernel(), C.Tensor.empty([V], 'f32', e2d.backend), { src: bias }, { s: N }) : null;
    const out = C.Tensor.empty([V], 'f32', e2d.backend);
    return C.runMap(rowDotKernel(!!bias), out, { c, m: eSum, ...(scaledBias ? { bias: scaledBias } : {}) }, { D });
  });
}
