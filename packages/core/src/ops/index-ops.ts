// Index ops: gather (embedding lookup) and its scatter-add gradient, pick (one column per row, as
// cross-entropy reads target logits) and its one-hot gradient.
//
// Bad indices never give a silently wrong number. Host-known ids (i32 tensors made from host data keep
// `hostValues`) are checked before any kernel runs: the error names the op, the position, the value and
// the valid range. Device-computed ids cannot be checked without a round trip, so the kernels mark an id
// outside its range with NaN (rows or elements of NaN, as each op says) instead of reading out of bounds.
import { record } from '../autograd/record.js';
import { Tensor } from '../tensor.js';
import type { NumericScalar } from '../ir/types.js';
import { gatherRowsKernel, oneHotKernel, pickKernel } from './kernels.js';
import { scatterAddRowsInto } from './scatter-rows.js';
import { runMap } from './launch.js';
import { bindingWindows, windowOf } from './windows.js';
import { fmt, requireDtype, requireSameBackend, sizeOf } from './shape-utils.js';

/** Where flat element `i` of a tensor of `shape` sits, for messages: `3` in 1-D, `[1, 2]` otherwise. */
export function positionOf(i: number, shape: readonly number[]): string {
  if (shape.length <= 1) return String(i);
  const coords: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    coords.unshift(i % shape[d]!);
    i = Math.floor(i / shape[d]!);
  }
  return fmt(coords);
}

/**
 * Throws if a host-known id lies outside [0, limit) and is not `ignored`; `what` names the ids in the
 * message, `range` what the range is, `ignoredText` the exception.
 */
export function checkHostIds(op: string, ids: Tensor, limit: number, what: string, range: string, ignored?: (id: number) => boolean, ignoredText = ''): void {
  const values = ids.hostValues;
  if (!values) return;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if ((v >= 0 && v < limit) || ignored?.(v)) continue;
    throw new Error(`${op}: ${what} ${v} at position ${positionOf(i, ids.shape)} of ${fmt(ids.shape)} is outside [0, ${limit}) (${range})${ignoredText}`);
  }
}

export interface PickOptions {
  /**
   * The id that picks nothing (0, and no gradient): cross-entropy's ignored targets. Without it, every
   * negative id picks nothing (the ignore markers of targets, as PyTorch's -100).
   */
  ignoreIndex?: number;
}

/** Uniforms of the pick and one-hot kernels for an ignoreIndex (see ignoredId in kernels.ts). */
const ignoreUniforms = (ignoreIndex: number | null) => ({ ignore: ignoreIndex ?? 0, ignore_any: ignoreIndex === null ? 1 : 0 });

function checkPickIds(op: string, ids: Tensor, K: number, ignoreIndex: number | null): void {
  const ignored = ignoreIndex === null ? (v: number) => v < 0 : (v: number) => v === ignoreIndex;
  const text = ignoreIndex === null ? ' and is not negative (negative ids pick nothing)' : ` and is not ignoreIndex (${ignoreIndex})`;
  checkHostIds(op, ids, K, 'id', 'the last axis of x', ignored, text);
}

function ignoreIndexOf(op: string, opts: PickOptions): number | null {
  const v = opts.ignoreIndex;
  if (v === undefined) return null;
  if (!Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) throw new Error(`${op}: ignoreIndex must be an i32, got ${v}`);
  return v;
}

/**
 * table [V, ...rest] indexed by ids (i32, any shape) -> [...ids.shape, ...rest]. Host-known ids must lie
 * in [0, V); a device-computed id outside it gives a row of NaN (so an i32 table, which has no NaN, takes
 * host-known ids only).
 */
export function gather(table: Tensor, ids: Tensor): Tensor {
  requireDtype('gather', ids, 'i32', 'ids');
  requireSameBackend('gather', table, ids);
  if (table.rank < 1) throw new Error(`gather: table must have rank >= 1, got ${fmt(table.shape)}`);
  const [V, ...rest] = table.shape as number[];
  checkHostIds('gather', ids, V!, 'id', `the table's rows`);
  if (table.dtype !== 'f32' && !ids.hostValues && ids.size > 0) {
    throw new Error(`gather: an ${table.dtype} table ${fmt(table.shape)} needs host-known ids (a device-computed id out of range would be marked NaN, which ${table.dtype} cannot hold)`);
  }
  const D = sizeOf(rest);
  const out = Tensor.empty([...ids.shape, ...rest], table.dtype, table.backend, 'gather');
  // A table past one binding goes by windows of rows, each dispatch writing the ids that fall in it.
  for (const w of bindingWindows('gather', table.backend, table.size, D)) {
    const window = { row0: w.offset / D, window_rows: w.length / D };
    runMap(gatherRowsKernel(table.dtype as NumericScalar), out, { table: windowOf(table, w), ids }, { D, V: V!, ...window });
  }
  return record('gather', [table, ids], out, {});
}

/**
 * out[v] = Σ_{n: ids[n] = v} src[n]: rows of src [...ids.shape, ...rest] summed into [rows, ...rest].
 * Host-known ids must lie in [0, rows); a device-computed id outside it makes every element NaN.
 */
export function scatterAdd(src: Tensor, ids: Tensor, rows: number): Tensor {
  requireDtype('scatterAdd', ids, 'i32', 'ids');
  requireDtype('scatterAdd', src, 'f32', 'src');
  requireSameBackend('scatterAdd', src, ids);
  const rest = src.shape.slice(ids.rank);
  if (src.shape.slice(0, ids.rank).join() !== ids.shape.join()) {
    throw new Error(`scatterAdd: src ${fmt(src.shape)} does not start with ids' shape ${fmt(ids.shape)}`);
  }
  if (!Number.isInteger(rows) || rows < 0) throw new Error(`scatterAdd: rows must be a non-negative integer, got ${rows}`);
  checkHostIds('scatterAdd', ids, rows, 'id', 'the output rows');
  const out = Tensor.empty([rows, ...rest], 'f32', src.backend, 'scatterAdd');
  const D = sizeOf(rest);
  scatterAddRowsInto(out, src, ids, rows, D);
  return record('scatterAdd', [src, ids], out, { rows });
}

/**
 * x [..., K], ids i32 [...] -> x[..., ids] per row. An ignored id (see PickOptions) gives 0; any other
 * host-known id must lie in [0, K), and a device-computed one outside it gives NaN.
 */
export function pick(x: Tensor, ids: Tensor, opts: PickOptions = {}): Tensor {
  requireDtype('pick', x, 'f32');
  requireDtype('pick', ids, 'i32', 'ids');
  requireSameBackend('pick', x, ids);
  if (x.shape.slice(0, -1).join() !== ids.shape.join() || x.rank < 1) {
    throw new Error(`pick: ids ${fmt(ids.shape)} must match x ${fmt(x.shape)} without its last axis`);
  }
  const K = x.shape[x.rank - 1]!;
  const ignoreIndex = ignoreIndexOf('pick', opts);
  checkPickIds('pick', ids, K, ignoreIndex);
  const out = Tensor.empty(ids.shape, 'f32', x.backend, 'pick');
  runMap(pickKernel(), out, { src: x, ids }, { K, ...ignoreUniforms(ignoreIndex) });
  return record('pick', [x, ids], out, { ignoreIndex });
}

/**
 * src [...] placed at column ids[...] of a zero [..., depth] tensor (pick's gradient). An ignored id (see
 * PickOptions) gives a row of zeros; any other host-known id must lie in [0, depth), and a
 * device-computed one outside it gives a row of NaN.
 */
export function oneHot(src: Tensor, ids: Tensor, depth: number, opts: PickOptions = {}): Tensor {
  requireDtype('oneHot', src, 'f32', 'src');
  requireDtype('oneHot', ids, 'i32', 'ids');
  requireSameBackend('oneHot', src, ids);
  if (src.shape.join() !== ids.shape.join()) throw new Error(`oneHot: src ${fmt(src.shape)} and ids ${fmt(ids.shape)} differ`);
  if (!Number.isInteger(depth) || depth < 0) throw new Error(`oneHot: depth must be a non-negative integer, got ${depth}`);
  const ignoreIndex = ignoreIndexOf('oneHot', opts);
  checkPickIds('oneHot', ids, depth, ignoreIndex);
  const out = Tensor.empty([...ids.shape, depth], 'f32', src.backend, 'oneHot');
  runMap(oneHotKernel(), out, { src, ids }, { K: depth, ...ignoreUniforms(ignoreIndex) });
  return record('oneHot', [src, ids], out, { depth, ignoreIndex });
}
