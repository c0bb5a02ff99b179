// Reductions over axes: the reduced axes are moved last (a copy only when they are not already), then
// each row of the resulting [M, K] is reduced by one invocation.
import { record } from '../autograd/record.js';
import type { NumericScalar } from '../ir/types.js';
import { Tensor } from '../tensor.js';
import { noGrad } from '../autograd/record.js';
import { logsumexpRowsKernel, reduceRowsKernel } from './kernels.js';
import { registerVariant, runVariant } from './variants.js';
import { type BufferArg, dispatchKernel, grid1d, lengthOf } from './launch.js';
import { bindingWindows, windowOf } from './windows.js';
import { RANGE_ALIGNMENT } from '../backend.js';
import { normalizeAxis, sizeOf } from './shape-utils.js';
import { concat, permute } from './shape-ops.js';
import { div, mulScalar } from './elementwise.js';

/**
 * Reduces each row of a contiguous [M, K] `src` into out [M] (M = out's length); sums are times `scale`.
 * src and out may be binding windows of tensors.
 */
export interface RowReduction {
  kind: 'sum' | 'max' | 'logsumexp';
  src: BufferArg;
  out: BufferArg;
  K: number;
  scale: number;
}

registerVariant<RowReduction>('reduceRows', {
  name: 'map',
  priority: 0,
  supports: () => true,
  run: (backend, p) => {
    const kernel = p.kind === 'logsumexp' ? logsumexpRowsKernel() : reduceRowsKernel(p.kind, p.src.dtype as NumericScalar);
    const rows = lengthOf(p.out);
    dispatchKernel(backend, kernel, { src: p.src, out: p.out }, { ...(p.kind === 'logsumexp' ? { K: p.K } : { K: p.K, scale: p.scale }), count: rows },
      grid1d(rows, kernel.workgroupSize[0], backend.capabilities.limits.maxWorkgroupsPerDimension));
  },
});

export interface ReduceOptions {
  keepDims?: boolean;
}

function normalizeAxes(op: string, x: Tensor, axes?: number | readonly number[]): number[] {
  const list = axes === undefined ? x.shape.map((_, i) => i) : typeof axes === 'number' ? [axes] : [...axes];
  const norm = [...new Set(list.map((a) => normalizeAxis(op, a, x.rank)))].sort((a, b) => a - b);
  return norm;
}

function reduceRows(kind: 'sum' | 'max', x: Tensor, axes: number[], keepDims: boolean): Tensor {
  const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const order = [...kept, ...axes];
  const K = sizeOf(axes.map((a) => x.shape[a]!));
  // An f16 max is exact; an f16 sum would accumulate in f16, which no caller should get by accident.
  if (kind === 'sum' && x.dtype === 'f16') throw new Error(`sum: f16 input [${x.shape}] is not summed in f16; cast it to f32 first`);
  if (kind === 'max' && K === 0) throw new Error(`max: cannot reduce an empty axis of [${x.shape}]`);
  const outShape = keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : kept.map((i) => x.shape[i]!);
  const moved = order.every((a, i) => a === i) ? x : noGrad(() => permute(x, order));
  const out = Tensor.empty(outShape, x.dtype, x.backend, kind);
  if (out.size > 0) reduceWindows(kind, moved, out, K);
  if (moved !== x) moved.dispose();
  return out;
}

/** The row reduction of src [M, K] into out [M], by binding windows when src is past one binding. */
function reduceWindows(kind: 'sum' | 'max', src: Tensor, out: Tensor, K: number): void {
  const backend = src.backend;
  const run = (s: BufferArg, o: BufferArg, k: number) => runVariant<RowReduction>('reduceRows', backend, { kind, src: s, out: o, K: k, scale: 1 });
  if (src.size * 4 <= backend.capabilities.limits.maxStorageBufferBindingSize) return void run(src, out, K);
  if (out.size === 1) {
    // One row past a binding: each window reduces into its own element, then those are reduced.
    const parts = bindingWindows(kind, backend, src.size).map((w) => {
      const part = Tensor.empty([1], src.dtype, backend, kind);
      run(windowOf(src, w), part, w.length);
      return part;
    });
    const all = noGrad(() => concat(parts, 0));
    for (const p of parts) p.dispose();
    reduceWindows(kind, all, out, all.size);
    all.dispose();
    return;
  }
  // Windows of whole groups of RANGE_ALIGNMENT rows, so that out's window is aligned too.
  for (const w of bindingWindows(kind, backend, src.size, RANGE_ALIGNMENT * K)) {
    run(windowOf(src, w), windowOf(out, { offset: w.offset / K, length: w.length / K }), K);
  }
}

/** Sum over `axes` (all by default). */
export function sum(x: Tensor, axes?: number | readonly number[], opts: ReduceOptions = {}): Tensor {
  const a = normalizeAxes('sum', x, axes);
  const keepDims = opts.keepDims ?? false;
  return record('sum', [x], reduceRows('sum', x, a, keepDims), { axes: a, keepDims });
}

/** Maximum over `axes` (all by default); the gradient is shared equally among tied maxima. */
export function max(x: Tensor, axes?: number | readonly number[], opts: ReduceOptions = {}): Tensor {
  const a = normalizeAxes('max', x, axes);
  const keepDims = opts.keepDims ?? false;
  return record('max', [x], reduceRows('max', x, a, keepDims), { axes: a, keepDims });
}

/** Mean over `axes` (all by default); over no element it is 0 / 0 = NaN, as in PyTorch. */
export function mean(x: Tensor, axes?: number | readonly number[], opts: ReduceOptions = {}): Tensor {
  const a = normalizeAxes('mean', x, axes);
  const count = sizeOf(a.map((i) => x.shape[i]!));
  const total = sum(x, a, opts);
  // A sum over nothing is 0; dividing it by itself gives the NaN at run time (uniforms must be finite).
  return count === 0 ? div(total, total) : mulScalar(total, 1 / count);
}
