// Constant folding of integer and bool expressions. WGSL evaluates an expression made only of literals at
// shader creation and rejects it where the IR defines a result: integer division or remainder by zero,
// i32 overflow, shifts past the bit width, out-of-range float-to-int conversions. Folding such
// expressions here, with the IR's run-time semantics (core's ir/int-semantics.ts, as the CPU reference runs
// them), emits their value instead.
import type { Expr, Scalar, ScalarType, ValueType } from '@cce/core';
import { BINARY, UNARY, f16Round, f2i, f2u, h2i, h2u, hostValues, vectorInfo } from '@cce/core';

export type Value = Scalar | Scalar[];

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

function cast(from: ScalarType, to: ScalarType, a: number | boolean): number | boolean {
  if (from === to) return a;
  if (to === 'bool') return Number(a) !== 0;
  const x = Number(a);
  if (to === 'f32') return Math.fround(x);
  if (to === 'f16') return f16Round(x);
  if (to === 'i32') return from === 'f16' ? h2i(x) : from === 'f32' ? f2i(x) : x | 0;
  return from === 'f16' ? h2u(x) : from === 'f32' ? f2u(x) : x >>> 0;
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
      return n === 1 ? UNARY[e.op](hostValues, elem, a as Scalar) : lanes(a, n).map((x) => UNARY[e.op](hostValues, elem, x));
    }
    case 'binary': {
      const t = typeOf(e.a);
      const { elem, lanes: n } = vectorInfo(t);
      const a = evaluate(e.a, typeOf);
      const b = evaluate(e.b, typeOf);
      if (n === 1) return BINARY[e.op](hostValues, elem, a as Scalar, b as Scalar);
      const bl = lanes(b, n);
      return lanes(a, n).map((x, i) => BINARY[e.op](hostValues, elem, x, bl[i]!));
    }
    default: throw new Error(`const-fold: ${e.k} is not constant`);
  }
}
