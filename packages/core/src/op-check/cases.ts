// The op registry: every op that `pnpm gradcheck` and the conformance tests check, each with the inputs
// it needs (shapes at odd sizes, positive domains for log and sqrt, valid indices and targets). Core's own
// ops are listed here; users add theirs (a fused op, a composition) with `registerOp`.
import * as C from '../ops/api.js';
import type { Tensor } from '../tensor.js';

export interface InputSpec {
  shape: number[];
  dtype?: 'f32' | 'i32';
  /** Integer range [low, high) for i32 inputs; float range for 'uniform' f32 inputs. */
  low?: number;
  high?: number;
  /** f32 drawn uniformly in [low, high) instead of normally. */
  uniform?: boolean;
  /** i32 entries replaced by -100 with this probability (ignored targets). */
  ignoreFraction?: number;
}

export interface OpCase {
  name: string;
  inputs: InputSpec[];
  fn: (...xs: Tensor[]) => Tensor;
  /** False for ops without a gradient. */
  grad?: boolean;
  /** f32 backends against the f64 reference: |got - want| <= atol + rtol * max |want| (defaults 1e-6, 2e-5). */
  rtol?: number;
  atol?: number;
}

const f = (...shape: number[]): InputSpec => ({ shape });
const positive = (...shape: number[]): InputSpec => ({ shape, uniform: true, low: 0.5, high: 2 });
const ids = (shape: number[], high: number, ignoreFraction = 0): InputSpec => ({ shape, dtype: 'i32', low: 0, high, ignoreFraction });

const unaries = ['neg', 'exp', 'tanh', 'abs', 'relu', 'sigmoid', 'gelu'] as const;
const positiveUnaries = ['log', 'sqrt', 'rsqrt'] as const;
const binaries = ['add', 'sub', 'mul', 'div', 'maximum', 'minimum'] as const;

/** Core's own ops. */
export const builtinOpCases: OpCase[] = [
  ...unaries.map((op) => ({ name: op, inputs: [f(3, 5, 7)], fn: (x: Tensor) => (C[op] as (t: Tensor) => Tensor)(x) })),
  ...positiveUnaries.map((op) => ({ name: op, inputs: [positive(3, 5, 7)], fn: (x: Tensor) => (C[op] as (t: Tensor) => Tensor)(x) })),
  ...binaries.map((op) => ({ name: `${op} same shape`, inputs: [f(3, 5, 7), op === 'div' ? positive(3, 5, 7) : f(3, 5, 7)], fn: (a: Tensor, b: Tensor) => (C[op] as (p: Tensor, q: Tensor) => Tensor)(a, b) })),
  ...binaries.map((op) => ({ name: `${op} broadcast`, inputs: [f(3, 5, 7), op === 'div' ? positive(5, 1) : f(5, 1)], fn: (a: Tensor, b: Tensor) => (C[op] as (p: Tensor, q: Tensor) => Tensor)(a, b) })),
  { name: 'add broadcast both', inputs: [f(3, 1, 7), f(5, 1)], fn: (a, b) => C.add(a, b) },
  { name: 'addScalar', inputs: [f(3, 5, 7)], fn: (x) => C.addScalar(x, 0.75) },
  { name: 'mulScalar', inputs: [f(3, 5, 7)], fn: (x) => C.mulScalar(x, -1.25) },
  { name: 'compare gt', inputs: [f(3, 5, 7), f(5, 7)], fn: (a, b) => C.compare(a, 'gt', b), grad: false },
  { name: 'compareScalar ne (i32)', inputs: [ids([13], 4)], fn: (t) => C.compareScalar(t, 'ne', 2), grad: false },
  { name: 'where', inputs: [f(3, 5, 7), f(3, 5, 7), f(5, 7)], fn: (c, a, b) => C.where(C.compareScalar(c, 'gt', 0), a, b) },
  { name: 'cast to i32', inputs: [{ shape: [3, 7], uniform: true, low: -20, high: 20 }], fn: (x) => C.cast(x, 'i32'), grad: false },
  { name: 'sum all', inputs: [f(3, 5, 7)], fn: (x) => C.sum(x) },
  { name: 'sum axis 1', inputs: [f(3, 5, 7)], fn: (x) => C.sum(x, 1) },
  { name: 'sum axes 0,2 keepDims', inputs: [f(3, 5, 7)], fn: (x) => C.sum(x, [0, 2], { keepDims: true }) },
  { name: 'max axis -1', inputs: [f(3, 5, 7)], fn: (x) => C.max(x, -1) },
  { name: 'max axis 0 keepDims', inputs: [f(3, 5, 7)], fn: (x) => C.max(x, 0, { keepDims: true }) },
  { name: 'mean axis 1', inputs: [f(3, 5, 7)], fn: (x) => C.mean(x, 1) },
  { name: 'matmul', inputs: [f(5, 7), f(7, 3)], fn: (a, b) => C.matmul(a, b) },
  { name: 'matmul transA', inputs: [f(7, 5), f(7, 3)], fn: (a, b) => C.matmul(a, b, { transA: true }) },
  { name: 'matmul transB', inputs: [f(5, 7), f(3, 7)], fn: (a, b) => C.matmul(a, b, { transB: true }) },
  { name: 'matmul transA transB', inputs: [f(7, 5), f(3, 7)], fn: (a, b) => C.matmul(a, b, { transA: true, transB: true }) },
  { name: 'matmul batched', inputs: [f(3, 5, 7), f(3, 7, 9)], fn: (a, b) => C.matmul(a, b) },
  { name: 'matmul broadcast batch', inputs: [f(3, 5, 7), f(7, 9)], fn: (a, b) => C.matmul(a, b) },
  // Past the tuned variants' 1024 outputs, so GPUs run their tiled kernels on it.
  { name: 'matmul tiled size', inputs: [f(33, 47), f(47, 65)], fn: (a, b) => C.matmul(a, b) },
  { name: 'matmul partial broadcast', inputs: [f(3, 1, 5, 7), f(2, 7, 3)], fn: (a, b) => C.matmul(a, b, {}) },
  { name: 'reshape', inputs: [f(3, 5, 7)], fn: (x) => C.mulScalar(C.reshape(x, [7, -1]), 1) },
  { name: 'permute', inputs: [f(3, 5, 7)], fn: (x) => C.permute(x, [2, 0, 1]) },
  { name: 'transpose', inputs: [f(3, 5, 7)], fn: (x) => C.transpose(x) },
  { name: 'slice', inputs: [f(3, 5, 7)], fn: (x) => C.slice(x, [1, 1, 2], [3, -1, 7]) },
  { name: 'pad', inputs: [f(3, 5)], fn: (x) => C.pad(x, [1, 2], [5, 9]) },
  { name: 'concat axis 1', inputs: [f(3, 2, 7), f(3, 5, 7), f(3, 1, 7)], fn: (a, b, c) => C.concat([a, b, c], 1) },
  { name: 'broadcastTo', inputs: [f(5, 1)], fn: (x) => C.broadcastTo(x, [3, 5, 7]) },
  { name: 'gather', inputs: [f(11, 3), ids([2, 5], 11)], fn: (t, i) => C.gather(t, i) },
  { name: 'scatterAdd', inputs: [f(2, 5, 3), ids([2, 5], 11)], fn: (s, i) => C.scatterAdd(s, i, 11) },
  { name: 'pick', inputs: [f(5, 7), ids([5], 7)], fn: (x, i) => C.pick(x, i) },
  { name: 'oneHot', inputs: [f(5), ids([5], 7)], fn: (s, i) => C.oneHot(s, i, 7) },
  { name: 'logsumexp', inputs: [f(3, 5, 7)], fn: (x) => C.logsumexp(x) },
  { name: 'logsumexp axis 0 keepDims', inputs: [f(3, 5, 7)], fn: (x) => C.logsumexp(x, 0, { keepDims: true }) },
  { name: 'softmax', inputs: [f(3, 5, 7)], fn: (x) => C.softmax(x) },
  { name: 'logSoftmax axis 1', inputs: [f(3, 5, 7)], fn: (x) => C.logSoftmax(x, 1) },
  { name: 'layerNorm', inputs: [f(3, 5, 7)], fn: (x) => C.layerNorm(x) },
  { name: 'layerNorm affine', inputs: [f(5, 7), f(7), f(7)], fn: (x, w, b) => C.layerNorm(x, w, b) },
  { name: 'crossEntropy mean', inputs: [f(9, 7), ids([9], 7, 0.2)], fn: (x, t) => C.crossEntropy(x, t) },
  { name: 'crossEntropy sum', inputs: [f(9, 7), ids([9], 7, 0.2)], fn: (x, t) => C.crossEntropy(x, t, { reduction: 'sum' }) },
  { name: 'crossEntropy none', inputs: [f(9, 7), ids([9], 7, 0.2)], fn: (x, t) => C.crossEntropy(x, t, { reduction: 'none' }) },
];

/** Fresh random host data for an input spec (seeded, so a failure reproduces). */
export function hostInput(spec: InputSpec, rng: () => number): Float64Array | Int32Array {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  if (spec.dtype === 'i32') {
    const lo = spec.low ?? 0;
    const hi = spec.high ?? 10;
    return Int32Array.from({ length: n }, () => (rng() < (spec.ignoreFraction ?? 0) ? -100 : lo + Math.floor(rng() * (hi - lo))));
  }
  if (spec.uniform) {
    const lo = spec.low ?? 0;
    const hi = spec.high ?? 1;
    return Float64Array.from({ length: n }, () => lo + (hi - lo) * rng());
  }
  return Float64Array.from({ length: n }, () => {
    const u = 1 - rng();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
  });
}

const userCases: OpCase[] = [];

/** Adds an op to the registry (a user's fused op or composition); its name must be new. */
export function registerOp(c: OpCase): void {
  if (!c || typeof c.name !== 'string' || !c.name || typeof c.fn !== 'function' || !Array.isArray(c.inputs)) {
    throw new TypeError('registerOp: an op needs { name, inputs: InputSpec[], fn }');
  }
  if (registeredOps().some((o) => o.name === c.name)) throw new Error(`registerOp: an op named '${c.name}' is already registered`);
  for (const [i, spec] of c.inputs.entries()) {
    if (!Array.isArray(spec?.shape) || !spec.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new TypeError(`registerOp '${c.name}': input ${i} needs a shape of non-negative integers`);
    }
  }
  userCases.push(c);
}

/** Every registered op: core's, then the users' in the order they were registered. */
export function registeredOps(): OpCase[] {
  return [...builtinOpCases, ...userCases];
}
