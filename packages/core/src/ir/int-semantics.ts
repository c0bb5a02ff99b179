// The IR's scalar semantics on the host, which the CPU reference runs and the WebGPU backend folds constant
// expressions with, so both give the same values: integer arithmetic and float-to-integer conversions
// (WGSL's), and every operator, written once over `Host<T>` and read two ways: as values (`hostValues`,
// const-fold.ts) and as JavaScript source (cpu/codegen.ts). Float results are rounded with `round`, to
// f32 or to f16 (ir/f16.ts).
import type { BinaryOp, FloatType, ScalarType, UnaryOp } from './types.js';
import { isFloat } from './types.js';
import { F16_MAX, f16Round } from './f16.js';

/** i32 division: truncating; e / 0 == e. */
export const idiv = (a: number, b: number) => (b === 0 ? a : (a / b) | 0);
/** i32 remainder: the sign of the dividend; e % 0 == 0. */
export const imod = (a: number, b: number) => (b === 0 ? 0 : a % b | 0);
export const udiv = (a: number, b: number) => (b === 0 ? a : Math.floor(a / b) >>> 0);
export const umod = (a: number, b: number) => (b === 0 ? 0 : a % b >>> 0);
/** f32 to i32: truncating, saturating at the largest f32 values in range, NaN to 0. */
export const f2i = (x: number) => (Number.isNaN(x) ? 0 : Math.max(-2147483648, Math.min(2147483520, Math.trunc(x))) | 0);
export const f2u = (x: number) => (Number.isNaN(x) ? 0 : Math.max(0, Math.min(4294967040, Math.trunc(x))) >>> 0);
/** f16 to i32 / u32: as above, saturating at the values both types hold (WGSL's rule): ±65504, so inf gives 65504. */
export const h2i = (x: number) => f2i(Math.max(-F16_MAX, Math.min(F16_MAX, x)));
export const h2u = (x: number) => f2u(Math.min(F16_MAX, x));

export type Scalar = number | boolean;

/** JavaScript's binary operators, as the generated source spells them. */
export type JsOp = '+' | '-' | '*' | '/' | '%' | '<' | '<=' | '>' | '>=' | '===' | '!==' | '&&' | '||' | '&' | '|' | '^' | '<<' | '>>' | '>>>';
type MathFn = 'min' | 'max' | 'pow' | 'imul' | 'abs' | 'exp' | 'log' | 'sqrt' | 'tanh' | 'floor' | 'ceil' | 'sin' | 'cos';
/** Host functions: Math's, Number's tests and the helpers above (the CPU reference binds them by these names). */
export type HostFn = `Math.${MathFn}` | 'Number.isNaN' | 'Number.isFinite' | 'idiv' | 'imod' | 'udiv' | 'umod';

export interface Host<T> {
  lit(n: number): T;
  op(op: JsOp, a: T, b: T): T;
  neg(a: T): T;
  not(a: T): T;
  call(fn: HostFn, ...args: T[]): T;
  /** Rounding of a float result to its type. */
  round(x: T, t: FloatType): T;
}

const wrap = <T>(h: Host<T>, t: ScalarType, x: T): T => h.op(t === 'u32' ? '>>>' : '|', x, h.lit(0));
const plain = (op: JsOp) => <T>(h: Host<T>, _t: ScalarType, a: T, b: T): T => h.op(op, a, b);
const call = (fn: HostFn) => <T>(h: Host<T>, _t: ScalarType, a: T, b: T): T => h.call(fn, a, b);
const arith = (op: '+' | '-') => <T>(h: Host<T>, t: ScalarType, a: T, b: T): T =>
  isFloat(t) ? h.round(h.op(op, a, b), t) : wrap(h, t, h.op(op, a, b));
/** i32 results of & | ^ are already wrapped; u32 ones are made unsigned. */
const bits = (op: '&' | '|' | '^') => <T>(h: Host<T>, t: ScalarType, a: T, b: T): T =>
  t === 'u32' ? wrap(h, t, h.op(op, a, b)) : h.op(op, a, b);
/** Shift amounts are taken modulo 32. */
const shift = <T>(h: Host<T>, b: T): T => h.op('&', b, h.lit(31));

type BinaryFn = <T>(h: Host<T>, t: ScalarType, a: T, b: T) => T;
type UnaryFn = <T>(h: Host<T>, t: ScalarType, a: T) => T;

/** `t` is the operands' (element) type. */
export const BINARY: Record<BinaryOp, BinaryFn> = {
  '+': arith('+'),
  '-': arith('-'),
  '*': (h, t, a, b) => (isFloat(t) ? h.round(h.op('*', a, b), t) : t === 'u32' ? wrap(h, t, h.call('Math.imul', a, b)) : h.call('Math.imul', a, b)),
  '/': (h, t, a, b) => (isFloat(t) ? h.round(h.op('/', a, b), t) : h.call(t === 'u32' ? 'udiv' : 'idiv', a, b)),
  '%': (h, t, a, b) => (isFloat(t) ? h.round(h.op('%', a, b), t) : h.call(t === 'u32' ? 'umod' : 'imod', a, b)),
  '<': plain('<'),
  '<=': plain('<='),
  '>': plain('>'),
  '>=': plain('>='),
  '==': plain('==='),
  '!=': plain('!=='),
  '&&': plain('&&'),
  '||': plain('||'),
  '&': bits('&'),
  '|': bits('|'),
  '^': bits('^'),
  '<<': (h, t, a, b) => (t === 'u32' ? wrap(h, t, h.op('<<', a, shift(h, b))) : h.op('<<', a, shift(h, b))),
  '>>': (h, t, a, b) => h.op(t === 'u32' ? '>>>' : '>>', a, shift(h, b)),
  // Math.min and Math.max propagate a NaN: the IR's min and max do.
  min: call('Math.min'),
  max: call('Math.max'),
  pow: (h, t, a, b) => h.round(h.call('Math.pow', a, b), t as FloatType),
};

const math = (fn: MathFn): UnaryFn => (h, t, a) => h.round(h.call(`Math.${fn}`, a), t as FloatType);

/** `t` is the operand's (element) type. */
export const UNARY: Record<UnaryOp, UnaryFn> = {
  neg: (h, t, a) => (isFloat(t) ? h.round(h.neg(a), t) : wrap(h, t, h.neg(a))),
  not: (h, _t, a) => h.not(a),
  exp: math('exp'),
  log: math('log'),
  sqrt: math('sqrt'),
  rsqrt: (h, t, a) => h.round(h.op('/', h.lit(1), h.call('Math.sqrt', a)), t as FloatType),
  tanh: math('tanh'),
  abs: (h, t, a) => (isFloat(t) ? h.round(h.call('Math.abs', a), t) : wrap(h, t, h.call('Math.abs', a))),
  floor: math('floor'),
  ceil: math('ceil'),
  sin: math('sin'),
  cos: math('cos'),
  isNan: (h, _t, a) => h.call('Number.isNaN', a),
  isFinite: (h, _t, a) => h.call('Number.isFinite', a),
};

const JS_OPS: Record<JsOp, (a: Scalar, b: Scalar) => Scalar> = {
  '+': (a, b) => +a + +b,
  '-': (a, b) => +a - +b,
  '*': (a, b) => +a * +b,
  '/': (a, b) => +a / +b,
  '%': (a, b) => +a % +b,
  '<': (a, b) => +a < +b,
  '<=': (a, b) => +a <= +b,
  '>': (a, b) => +a > +b,
  '>=': (a, b) => +a >= +b,
  '===': (a, b) => a === b,
  '!==': (a, b) => a !== b,
  '&&': (a, b) => a && b,
  '||': (a, b) => a || b,
  '&': (a, b) => +a & +b,
  '|': (a, b) => +a | +b,
  '^': (a, b) => +a ^ +b,
  '<<': (a, b) => +a << +b,
  '>>': (a, b) => +a >> +b,
  '>>>': (a, b) => +a >>> +b,
};

const HOST_FNS: Record<HostFn, (...xs: number[]) => Scalar> = {
  'Math.min': Math.min, 'Math.max': Math.max, 'Math.pow': Math.pow, 'Math.imul': Math.imul, 'Math.abs': Math.abs,
  'Math.exp': Math.exp, 'Math.log': Math.log, 'Math.sqrt': Math.sqrt, 'Math.tanh': Math.tanh,
  'Math.floor': Math.floor, 'Math.ceil': Math.ceil, 'Math.sin': Math.sin, 'Math.cos': Math.cos,
  'Number.isNaN': Number.isNaN, 'Number.isFinite': Number.isFinite, idiv, imod, udiv, umod,
};

/** The operators evaluated on values, float results rounded to their type. */
export const hostValues: Host<Scalar> = {
  lit: (n) => n,
  op: (op, a, b) => JS_OPS[op](a, b),
  neg: (a) => -a,
  not: (a) => !a,
  call: (fn, ...args) => HOST_FNS[fn](...args.map(Number)),
  round: (x, t) => (t === 'f16' ? f16Round(+x) : Math.fround(+x)),
};
