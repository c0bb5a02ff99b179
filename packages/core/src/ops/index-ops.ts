// Index ops: gather (embedding lookup) and its scatter-add gradient, pick (one column per row, as
// cross-entropy reads target logits) and its one-hot gradient.
import { record } from '../autograd/tape.js';
import { Tensor } from '../tensor.js';
import type { NumericScalar } from '../ir/types.js';
import { gatherRowsKernel, oneHotKernel, pickKernel, scatterAddRowsKernel } from './kernels.js';
import { runMap } from './launch.js';
import { fmt, requireDtype, requireSameBackend, sizeOf } from './shape-utils.js';

/** table [V, ...rest] indexed by ids (i32, any shape) -> [...ids.shape, ...rest]; ids outside [0, V) give 0. */
export function gather(table: Tensor, ids: Tensor): Tensor {
  requireDtype('gather', ids, 'i32', 'ids');
  requireSameBackend('gather', table, ids);
  if (table.rank < 1) throw new Error(`gather: table must have rank >= 1, got ${fmt(table.shape)}`);
  const [V, ...rest] = table.shape as number[];
  const out = Tensor.empty([...ids.shape, ...rest], table.dtype, table.backend);
  runMap(gatherRowsKernel(table.dtype as NumericScalar), out, { table, ids }, { D: sizeOf(rest), V: V! });
  return record('gather', [table, ids], out, {});
}

/** out[v] = Σ_{n: ids[n] = v} src[n]: rows of src [...ids.shape, ...rest] summed into [rows, ...rest]. */
export function scatterAdd(src: Tensor, ids: Tensor, rows: number): Tensor {
  requireDtype('scatterAdd', ids, 'i32', 'ids');
  requireDtype('scatterAdd', src, 'f32', 'src');
  const rest = src.shape.slice(ids.rank);
  if (src.shape.slice(0, ids.rank).join() !== ids.shape.join()) {
    throw new Error(`scatterAdd: src ${fmt(src.shape)} does not start with ids' shape ${fmt(ids.shape)}`);
  }
  const out = Tensor.empty([rows, ...rest], 'f32', src.backend);
  runMap(scatterAddRowsKernel(), out, { src, ids }, { D: sizeOf(rest), N: ids.size });
  return record('scatterAdd', [src, ids], out, { rows });
}

/** x [..., K], ids i32 [...] -> x[..., ids] per row; ids outside [0, K) give 0. */
export function pick(x: Tensor, ids: Tensor): Tensor {
  requireDtype('pick', x, 'f32');
  requireDtype('pick', ids, 'i32', 'ids');
  if (x.shape.slice(0, -1).join() !== ids.shape.join() || x.rank < 1) {
    throw new Error(`pick: ids ${fmt(ids.shape)} must match x ${fmt(x.shape)} without its last axis`);
  }
  const out = Tensor.empty(ids.shape, 'f32', x.backend);
  runMap(pickKernel(), out, { src: x, ids }, { K: x.shape[x.rank - 1]! });
  return record('pick', [x, ids], out, {});
}

/** src [...] placed at column ids[...] of a zero [..., depth] tensor (pick's gradient). */
export function oneHot(src: Tensor, ids: Tensor, depth: number): Tensor {
  if (src.shape.join() !== ids.shape.join()) throw new Error(`oneHot: src ${fmt(src.shape)} and ids ${fmt(ids.shape)} differ`);
  const out = Tensor.empty([...ids.shape, depth], 'f32', src.backend);
  runMap(oneHotKernel(), out, { src, ids }, { K: depth });
  return record('oneHot', [src, ids], out, { depth });
}
