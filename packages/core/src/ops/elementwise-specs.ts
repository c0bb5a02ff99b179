// The scalar functions of elementwise ops, written once as IR expressions; kernels.ts wraps them in a
// broadcasting map kernel. Backends never see these names, only the kernels built from them.
import { type Ex, lit } from '../ir/builder.js';
import type { ScalarType } from '../ir/types.js';

export type UnaryName = 'neg' | 'exp' | 'log' | 'sqrt' | 'rsqrt' | 'tanh' | 'abs' | 'relu' | 'sigmoid' | 'gelu';
export type BinaryName = 'add' | 'sub' | 'mul' | 'div' | 'maximum' | 'minimum';
export type CompareOp = 'lt' | 'le' | 'gt' | 'ge' | 'eq' | 'ne';

const GELU_C = Math.sqrt(2 / Math.PI);
/** 1 in x's (float) type, so that the same expressions serve f32 and f16. */
const one = (x: Ex) => lit(1, x.type as ScalarType);

/** Tanh-approximated GELU, as GPT-2 uses. */
export function geluExpr(x: Ex): Ex {
  const inner = x.add(x.mul(x).mul(x).mul(0.044715)).mul(GELU_C);
  return x.mul(0.5).mul(inner.tanh().add(1));
}

/** d gelu(x) / dx for the tanh approximation. */
export function geluGradExpr(x: Ex): Ex {
  const inner = x.add(x.mul(x).mul(x).mul(0.044715)).mul(GELU_C);
  const t = inner.tanh();
  const dInner = x.mul(x).mul(3 * 0.044715).add(1).mul(GELU_C);
  return t.add(1).mul(0.5).add(x.mul(0.5).mul(one(x).sub(t.mul(t))).mul(dInner));
}

export const unaryExprs: Record<UnaryName, (x: Ex) => Ex> = {
  neg: (x) => x.neg(),
  exp: (x) => x.exp(),
  log: (x) => x.log(),
  sqrt: (x) => x.sqrt(),
  rsqrt: (x) => x.rsqrt(),
  tanh: (x) => x.tanh(),
  abs: (x) => x.abs(),
  relu: (x) => x.max(0),
  sigmoid: (x) => one(x).div(x.neg().exp().add(1)),
  gelu: geluExpr,
};

/** Unary functions defined only for floats. */
export const floatOnlyUnary = new Set<UnaryName>(['exp', 'log', 'sqrt', 'rsqrt', 'tanh', 'sigmoid', 'gelu']);

export const binaryExprs: Record<BinaryName, (a: Ex, b: Ex) => Ex> = {
  add: (a, b) => a.add(b),
  sub: (a, b) => a.sub(b),
  mul: (a, b) => a.mul(b),
  div: (a, b) => a.div(b),
  maximum: (a, b) => a.max(b),
  minimum: (a, b) => a.min(b),
};

export const compareExprs: Record<CompareOp, (a: Ex, b: Ex) => Ex> = {
  lt: (a, b) => a.lt(b),
  le: (a, b) => a.le(b),
  gt: (a, b) => a.gt(b),
  ge: (a, b) => a.ge(b),
  eq: (a, b) => a.eq(b),
  ne: (a, b) => a.ne(b),
};
