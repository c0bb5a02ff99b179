// Shape ops: reshape (a view), permute, slice, pad, concat and broadcastTo (strided copies).
import { record } from '../autograd/record.js';
import { Tensor } from '../tensor.js';
import { concatKernel, padKernel, stridedCopyKernel } from './kernels.js';
import { contiguousStrides, indexedUniforms, runMap } from './launch.js';
import { broadcastShapes, broadcastStrides, fmt, normalizeAxis, requireSameBackend, sameShape, sizeOf } from './shape-utils.js';

/** Copies `src` read through (strides, offset) into a new contiguous tensor of `shape`. */
function stridedCopy(op: string, src: Tensor, shape: readonly number[], strides: readonly number[], offset: number): Tensor {
  const out = Tensor.empty(shape, src.dtype, src.backend, op);
  return runMap(stridedCopyKernel(src.dtype , shape.length), out, { src }, {
    ...indexedUniforms('shape', shape), ...indexedUniforms('src_st', strides), src_off: offset,
  });
}

/** The same elements in a new shape (one dimension may be -1); shares the buffer. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const known = shape.filter((d) => d !== -1);
  const inferred = shape.length - known.length;
  if (inferred > 1) throw new Error(`reshape: at most one -1 in ${fmt(shape)}`);
  const rest = sizeOf(known);
  if (inferred && rest === 0 && x.size === 0) throw new Error(`reshape: the -1 in ${fmt(shape)} is ambiguous for ${fmt(x.shape)} (0 elements): any size fits`);
  const full = shape.map((d) => (d === -1 ? (rest === 0 ? NaN : x.size / rest) : d));
  if (sizeOf(full) !== x.size || full.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`reshape: cannot reshape ${fmt(x.shape)} (${x.size} elements) to ${fmt(shape)}`);
  }
  return record('reshape', [x], x.view(full), {});
}

export function permute(x: Tensor, perm: readonly number[]): Tensor {
  const p = perm.map((a) => normalizeAxis('permute', a, x.rank));
  if (p.length !== x.rank || new Set(p).size !== p.length) {
    throw new Error(`permute: ${fmt(perm)} is not a permutation of ${x.rank} axes`);
  }
  const inStrides = contiguousStrides(x.shape);
  const out = stridedCopy('permute', x, p.map((a) => x.shape[a]!), p.map((a) => inStrides[a]!), 0);
  return record('permute', [x], out, { perm: p });
}

/** Swaps the last two axes. */
export function transpose(x: Tensor): Tensor {
  if (x.rank < 2) throw new Error(`transpose: needs rank >= 2, got ${fmt(x.shape)}`);
  const perm = x.shape.map((_, i) => i);
  perm[x.rank - 2] = x.rank - 1;
  perm[x.rank - 1] = x.rank - 2;
  return permute(x, perm);
}

/** x[starts[0]:ends[0], ...]; missing trailing axes are taken whole; negative indices count from the end. */
export function slice(x: Tensor, starts: readonly number[], ends: readonly number[]): Tensor {
  if (starts.length !== ends.length || starts.length > x.rank) {
    throw new Error(`slice: starts ${fmt(starts)} and ends ${fmt(ends)} do not fit ${fmt(x.shape)}`);
  }
  const s = x.shape.map((d, i) => (i < starts.length ? (starts[i]! < 0 ? starts[i]! + d : starts[i]!) : 0));
  const e = x.shape.map((d, i) => (i < ends.length ? (ends[i]! < 0 ? ends[i]! + d : ends[i]!) : d));
  x.shape.forEach((d, i) => {
    if (!(0 <= s[i]! && s[i]! <= e[i]! && e[i]! <= d)) {
      throw new Error(`slice: range [${starts[i]}, ${ends[i]}) is out of bounds for axis ${i} of ${fmt(x.shape)}`);
    }
  });
  const strides = contiguousStrides(x.shape);
  const offset = s.reduce((acc, v, i) => acc + v * strides[i]!, 0);
  const out = stridedCopy('slice', x, s.map((v, i) => e[i]! - v), strides, offset);
  return record('slice', [x], out, { starts: s, ends: e });
}

/** A tensor of `shape` holding x at `starts` and zeros elsewhere (slice's gradient). */
export function pad(x: Tensor, starts: readonly number[], shape: readonly number[]): Tensor {
  if (starts.length !== x.rank || shape.length !== x.rank || x.shape.some((d, i) => starts[i]! < 0 || starts[i]! + d > shape[i]!)) {
    throw new Error(`pad: ${fmt(x.shape)} at ${fmt(starts)} does not fit in ${fmt(shape)}`);
  }
  const out = Tensor.empty(shape, x.dtype, x.backend, 'pad');
  runMap(padKernel(x.dtype , x.rank), out, { src: x }, {
    ...indexedUniforms('shape', shape), ...indexedUniforms('start', starts),
    ...indexedUniforms('srcShape', x.shape), ...indexedUniforms('src_st', contiguousStrides(x.shape)),
  });
  return record('pad', [x], out, { starts: [...starts], shape: [...shape] });
}

const CONCAT_MAX = 8;

export function concat(xs: readonly Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new Error('concat: no tensors');
  if (xs.length === 1) return reshape(xs[0]!, xs[0]!.shape);
  const first = xs[0]!;
  const a = normalizeAxis('concat', axis, first.rank);
  requireSameBackend('concat', ...xs);
  for (const t of xs) {
    if (t.rank !== first.rank || t.dtype !== first.dtype || t.shape.some((d, i) => i !== a && d !== first.shape[i])) {
      throw new Error(`concat: ${xs.map((x) => `${x.dtype} ${fmt(x.shape)}`).join(', ')} differ outside axis ${a}`);
    }
  }
  if (xs.length > CONCAT_MAX) {
    return concat([concat(xs.slice(0, CONCAT_MAX), a), concat(xs.slice(CONCAT_MAX), a)], a);
  }
  const shape = [...first.shape];
  shape[a] = xs.reduce((s, t) => s + t.shape[a]!, 0);
  const out = Tensor.empty(shape, first.dtype, first.backend, 'concat');
  const uniforms: Record<string, number> = indexedUniforms('shape', shape);
  const buffers: Record<string, Tensor> = {};
  let lo = 0;
  xs.forEach((t, j) => {
    buffers[`in${j}`] = t;
    uniforms[`lo${j}`] = lo;
    lo += t.shape[a]!;
    Object.assign(uniforms, indexedUniforms(`in${j}_st`, contiguousStrides(t.shape)));
  });
  uniforms[`lo${xs.length}`] = lo;
  runMap(concatKernel(first.dtype , first.rank, a, xs.length), out, buffers, uniforms);
  return record('concat', [...xs], out, { axis: a });
}

export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  const target = broadcastShapes('broadcastTo', x.shape, shape);
  if (!sameShape(target, shape)) throw new Error(`broadcastTo: ${fmt(x.shape)} cannot broadcast to ${fmt(shape)}`);
  const out = stridedCopy('broadcastTo', x, shape, broadcastStrides(x.shape, shape), 0);
  return record('broadcastTo', [x], out, {});
}
