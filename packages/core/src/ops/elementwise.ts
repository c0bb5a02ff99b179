// Elementwise ops with broadcasting: unary, binary, comparisons, where, scalar forms and casts.
import { type Ex, f32 } from '../ir/builder.js';
import { record } from '../autograd/record.js';
import type { OpName } from '../autograd/node.js';
import type { ElementScalar } from '../ir/types.js';
import { Tensor } from '../tensor.js';
import type { DType } from '../backend.js';
import { type ElementwiseFn, elementwiseKernel } from './kernels.js';
import { indexedUniforms, runMap } from './launch.js';
import { dispatchWindows } from './windows.js';
import {
  type BinaryName, type CompareOp, type UnaryName,
  binaryExprs, compareExprs, floatOnlyUnary, geluGradExpr, unaryExprs,
} from './elementwise-specs.js';
import { broadcastShapes, broadcastStrides, fmt, requireSameBackend, sameShape } from './shape-utils.js';

/**
 * Runs `fn` elementwise over broadcast inputs, without recording. Exposed so that VJP rules and fused
 * ops can build on it; `name` must identify `fn` (it keys the kernel cache).
 */
export function mapElementwise(name: string, inputs: Tensor[], outDtype: DType, fn: ElementwiseFn, scalars: number[] = []): Tensor {
  requireSameBackend(name, ...inputs);
  const outShape = broadcastShapes(name, ...inputs.map((t) => t.shape));
  const out = Tensor.empty(outShape, outDtype, inputs[0]!.backend, name);
  const contiguous = inputs.every((t) => sameShape(t.shape, outShape));
  const rank = contiguous ? 0 : outShape.length;
  const kernel = elementwiseKernel(name, inputs.map((t) => t.dtype), outDtype, rank, scalars.length, fn);
  const uniforms: Record<string, number> = { ...indexedUniforms('s', scalars) };
  const buffers: Record<string, Tensor> = {};
  inputs.forEach((t, j) => {
    buffers[`in${j}`] = t;
    if (rank > 0) Object.assign(uniforms, indexedUniforms(`in${j}_st`, broadcastStrides(t.shape, outShape)));
  });
  if (rank === 0) {
    // Contiguous inputs share the output's element range, so tensors past one binding go by windows.
    dispatchWindows(name, kernel, out.size, { ...buffers, out }, {}, uniforms, out.backend);
    return out;
  }
  Object.assign(uniforms, indexedUniforms('shape', outShape));
  return runMap(kernel, out, buffers, uniforms);
}

function requireFloat(op: string, ...ts: Tensor[]): void {
  for (const t of ts) if (t.dtype === 'i32') throw new Error(`${op}: needs f32 inputs, got ${t.dtype} ${fmt(t.shape)} (or f16 ones)`);
}

/** A scalar uniform (f32) in x's float type: f16 ops compute in f16, as WGSL's do. */
const inType = (s: Ex, x: Tensor): Ex => (x.dtype === 'f32' ? s : s.cast(x.dtype as ElementScalar));

function unary(op: UnaryName & OpName, x: Tensor): Tensor {
  if (floatOnlyUnary.has(op)) requireFloat(op, x);
  const f = unaryExprs[op];
  return record(op, [x], mapElementwise(op, [x], x.dtype, ([a]) => f(a!)), {});
}

export const neg = (x: Tensor) => unary('neg', x);
export const exp = (x: Tensor) => unary('exp', x);
export const log = (x: Tensor) => unary('log', x);
export const sqrt = (x: Tensor) => unary('sqrt', x);
export const rsqrt = (x: Tensor) => unary('rsqrt', x);
export const tanh = (x: Tensor) => unary('tanh', x);
export const abs = (x: Tensor) => unary('abs', x);
export const relu = (x: Tensor) => unary('relu', x);
export const sigmoid = (x: Tensor) => unary('sigmoid', x);
/** GELU with the tanh approximation (GPT-2's). */
export const gelu = (x: Tensor) => unary('gelu', x);

function binary(op: BinaryName & OpName, a: Tensor, b: Tensor): Tensor {
  if (a.dtype !== b.dtype) throw new Error(`${op}: dtype mismatch, ${a.dtype} ${fmt(a.shape)} and ${b.dtype} ${fmt(b.shape)}`);
  const f = binaryExprs[op];
  return record(op, [a, b], mapElementwise(op, [a, b], a.dtype, ([x, y]) => f(x!, y!)), {});
}

export const add = (a: Tensor, b: Tensor) => binary('add', a, b);
export const sub = (a: Tensor, b: Tensor) => binary('sub', a, b);
export const mul = (a: Tensor, b: Tensor) => binary('mul', a, b);
export const div = (a: Tensor, b: Tensor) => binary('div', a, b);
export const maximum = (a: Tensor, b: Tensor) => binary('maximum', a, b);
export const minimum = (a: Tensor, b: Tensor) => binary('minimum', a, b);

export function addScalar(x: Tensor, value: number): Tensor {
  requireFloat('addScalar', x);
  return record('addScalar', [x], mapElementwise('addScalar', [x], x.dtype, ([a], [s]) => a!.add(inType(s!, x)), [value]), { value });
}

export function mulScalar(x: Tensor, value: number): Tensor {
  requireFloat('mulScalar', x);
  return record('mulScalar', [x], mapElementwise('mulScalar', [x], x.dtype, ([a], [s]) => a!.mul(inType(s!, x)), [value]), { value });
}

/** 1 where `a op b` holds, else 0 (f32); not differentiable. */
export function compare(a: Tensor, op: CompareOp, b: Tensor): Tensor {
  if (a.dtype !== b.dtype) throw new Error(`compare: dtype mismatch, ${a.dtype} and ${b.dtype}`);
  const f = compareExprs[op];
  return record('compare', [a, b], mapElementwise(`cmp_${op}`, [a, b], 'f32', ([x, y]) => f(x!, y!).select(f32(1), f32(0))), { op });
}

/** 1 where `x op value` holds, else 0 (f32); `value` is compared in x's dtype. */
export function compareScalar(x: Tensor, op: CompareOp, value: number): Tensor {
  const f = compareExprs[op];
  const out = mapElementwise(`cmps_${op}`, [x], 'f32', ([a], [s]) => f(a!, inType(s!, x)).select(f32(1), f32(0)), [value]);
  return record('compareScalar', [x], out, { op, value });
}

/** cond != 0 ? a : b, broadcasting all three. */
export function where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
  if (a.dtype !== b.dtype) throw new Error(`where: branches differ in dtype, ${a.dtype} and ${b.dtype}`);
  const zero = cond.dtype === 'f32' ? f32(0) : null;
  const out = mapElementwise('where', [cond, a, b], a.dtype, ([c, x, y]) => (zero ? c!.ne(zero) : c!.ne(0)).select(x!, y!));
  return record('where', [cond, a, b], out, {});
}

export function cast(x: Tensor, dtype: DType): Tensor {
  return record('cast', [x], mapElementwise(`cast_${dtype}`, [x], dtype, ([a]) => a!.cast(dtype)), { dtype });
}

/** g * gelu'(x), used by gelu's VJP. */
export function geluBackward(x: Tensor, g: Tensor): Tensor {
  return mapElementwise('gelu_backward', [x, g], 'f32', ([a, gr]) => geluGradExpr(a!).mul(gr!));
}
