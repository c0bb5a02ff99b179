// Constant folding of integer and bool expressions. WGSL evaluates an expression made only of literals at
// shader creation and rejects it where the IR defines a result: integer division or remainder by zero,
// i32 overflow, shifts past the bit width, out-of-range float-to-int conversions. Folding such
// expressions here, with the IR's run-time semantics (the CPU reference's), emits their value instead.
import type { Expr, ScalarType, ValueType } from '@cce/core';
import { f2i, f2u, idiv, imod, udiv, umod, vectorInfo } from '@cce/core';

export type Value = number | boolean | (number | boolean)[];

/** Whether `e` is built from literals alone (a WGSL const-expression). */
export function isConstExpr(e: Expr): boolean {
  switch (e.k) {
    case 'const': return true;
    case 'vec': return e.parts.every(isConstExpr);
    case 'binary': return isConstExpr(e.a) && isConstExpr(e.b);
    case 'unary': case 'component': return isConstExpr(e.a);
    case 'cast': return isConstExpr(e.a);
    case 'select': return isConstExpr(e.cond) && isConstExpr(e.a) && isConstExpr(e.b);
    default: return false;
  }
}

const wrapTo = (t: ScalarType, x: number): number | boolean =>
  t === 'i32' ? x | 0 : t === 'u32' ? x >>> 0 : t === 'bool' ? x !== 0 : Math.fround(x);

function scalarBinary(op: string, t: ScalarType, a: number | boolean, b: number | boolean): number | boolean {
  const x = Number(a);
  const y = Number(b);
  switch (op) {
    case '<': return x < y;
    case '<=': return x <= y;
    case '>': return x > y;
    case '>=': return x >= y;
    case '==': return a === b;
    case '!=': return a !== b;
    case '&&': return Boolean(a) && Boolean(b);
    case '||': return Boolean(a) || Boolean(b);
    case 'min': return Math.min(x, y);
    case 'max': return Math.max(x, y);
  }
  if (t === 'f32') {
    switch (op) {
      case '+': return Math.fround(x + y);
      case '-': return Math.fround(x - y);
      case '*': return Math.fround(x * y);
      case '/': return Math.fround(x / y);
      case '%': return Math.fround(x % y);
      case 'pow': return Math.fround(Math.pow(x, y));
    }
  }
  switch (op) {
    case '+': return wrapTo(t, x + y);
    case '-': return wrapTo(t, x - y);
    case '*': return wrapTo(t, t === 'u32' ? Math.imul(x, y) >>> 0 : Math.imul(x, y));
    case '/': return t === 'u32' ? udiv(x, y) : idiv(x, y);
    case '%': return t === 'u32' ? umod(x, y) : imod(x, y);
    case '&': return wrapTo(t, x & y);
    case '|': return wrapTo(t, x | y);
    case '^': return wrapTo(t, x ^ y);
    case '<<': return wrapTo(t, x << (y & 31));
    case '>>': return t === 'u32' ? x >>> (y & 31) : x >> (y & 31);
  }
  throw new Error(`const-fold: binary ${op} on ${t}`);
}

function scalarUnary(op: string, t: ScalarType, a: number | boolean): number | boolean {
  const x = Number(a);
  switch (op) {
    case 'not': return !a;
    case 'isNan': return Number.isNaN(x);
    case 'isFinite': return Number.isFinite(x);
    case 'neg': return wrapTo(t, -x);
    case 'abs': return wrapTo(t, Math.abs(x));
    case 'rsqrt': return Math.fround(1 / Math.sqrt(x));
    case 'exp': case 'log': case 'sqrt': case 'tanh': case 'floor': case 'ceil': case 'sin': case 'cos':
      return Math.fround(Math[op](x));
  }
  throw new Error(`const-fold: unary ${op}`);
}

function cast(from: ScalarType, to: ScalarType, a: number | boolean): number | boolean {
  if (from === to) return a;
  if (to === 'bool') return Number(a) !== 0;
  const x = Number(a);
  if (to === 'f32') return Math.fround(x);
  if (to === 'i32') return from === 'f32' ? f2i(x) : x | 0;
  return from === 'f32' ? f2u(x) : x >>> 0;
}

const lanes = (v: Value, n: number): (number | boolean)[] => (Array.isArray(v) ? v : Array.from({ length: n }, () => v));

/** The value of a const-expression under the IR's semantics. */
export function evaluate(e: Expr, typeOf: (e: Expr) => ValueType): Value {
  switch (e.k) {
    case 'const': return e.value;
    case 'vec': return e.parts.map((p) => evaluate(p, typeOf) as number | boolean);
    case 'component': return (evaluate(e.a, typeOf) as (number | boolean)[])[e.index]!;
    case 'select': return evaluate(e.cond, typeOf) ? evaluate(e.a, typeOf) : evaluate(e.b, typeOf);
    case 'cast': return cast(typeOf(e.a) as ScalarType, e.to, evaluate(e.a, typeOf) as number | boolean);
    case 'unary': {
      const t = typeOf(e.a);
      const { elem, lanes: n } = vectorInfo(t);
      const a = evaluate(e.a, typeOf);
      return n === 1 ? scalarUnary(e.op, elem, a as number) : lanes(a, n).map((x) => scalarUnary(e.op, elem, x));
    }
    case 'binary': {
      const t = typeOf(e.a);
      const { elem, lanes: n } = vectorInfo(t);
      const a = evaluate(e.a, typeOf);
      const b = evaluate(e.b, typeOf);
      if (n === 1) return scalarBinary(e.op, elem, a as number, b as number);
      const bl = lanes(b, n);
      return lanes(a, n).map((x, i) => scalarBinary(e.op, elem, x, bl[i]!));
    }
    default: throw new Error(`const-fold: ${e.k} is not constant`);
  }
}
