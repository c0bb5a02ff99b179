// An f16 rounding oracle built independently of core's f16Round: the table of every non-negative finite
// f16 value, in order (index = the value's 16-bit encoding), and rounding by binary search for the
// nearest entry, a tie going to the even encoding (an even mantissa). 2^16 stands for the infinity just
// past the table (its encoding 0x7c00 is even, so 65520, the midpoint after 65504, rounds to it).
import * as C from '@cce/core';

const table: number[] = [];
for (let e = 0; e < 31; e++) {
  for (let m = 0; m < 1024; m++) table.push(e === 0 ? m / 2 ** 24 : (1 + m / 1024) * 2 ** (e - 15));
}
table.push(2 ** 16);

export function oracleF16(x: number): number {
  if (Number.isNaN(x) || x === 0 || !Number.isFinite(x)) return x;
  const a = Math.abs(x);
  let lo = 0;
  let hi = table.length - 1;
  if (a >= table[hi]!) return Math.sign(x) * Infinity;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (table[mid]! <= a) lo = mid;
    else hi = mid;
  }
  const dLo = a - table[lo]!;
  const dHi = table[hi]! - a;
  const pick = dLo < dHi || (dLo === dHi && lo % 2 === 0) ? lo : hi;
  const v = pick === table.length - 1 ? Infinity : table[pick]!;
  return x < 0 ? -v : v;
}

/** Every non-negative finite f16 value, ascending. */
export const F16_VALUES: readonly number[] = table.slice(0, -1);

/** Inputs that exercise f16 rounding: zeros, subnormals, the largest values, overflow, NaN, infinities, ties. */
export function edgeValues(): number[] {
  const v = [0, -0, 2 ** -24, -(2 ** -24), 2 ** -25, 2 ** -25 * 1.0000001, 3 * 2 ** -25, 2 ** -14, 2 ** -14 - 2 ** -25, 65504, -65504,
    65519.99, 65520, -65520, 70000, 1e30, -1e30, NaN, Infinity, -Infinity, 1, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -11 + 2 ** -30,
    2049, 2051, 4097, 0.1, -0.1, 1 / 3, 3.14159265, 1234.5678, 2 ** -20, 5.960464477539063e-8];
  // Midpoints between neighbours (ties) across the range.
  for (let i = 1; i < F16_VALUES.length; i += 997) v.push((F16_VALUES[i - 1]! + F16_VALUES[i]!) / 2);
  return v;
}


/** The spacing of f16 values at x's magnitude. */
export const f16Ulp = (x: number): number => {
  const m = Math.abs(x);
  return m < 2 ** -14 ? 2 ** -24 : 2 ** (Math.floor(Math.log2(m)) - 10);
};

/**
 * An f16 elementwise op, its value from float64 arithmetic on f16 inputs (rounded once to f16 by the
 * caller), and the error WGSL allows a GPU (f16 accuracy table; none where f16 arithmetic is correctly
 * rounded: + - *, min, max, and the exact ones).
 */
export interface F16Case {
  name: string;
  arity: 1 | 2;
  run: (a: C.Tensor, b: C.Tensor) => C.Tensor;
  exact: (a: number, b: number) => number;
  /** The absolute error allowed on a GPU at inputs a, b and exact result `want`; undefined: none. */
  gpuError?: (a: number, b: number, want: number) => number;
}

const ulps = (n: number) => (_a: number, _b: number, want: number) => n * f16Ulp(want);

export const F16_CASES: F16Case[] = [
  { name: 'add', arity: 2, run: C.add, exact: (a, b) => a + b },
  { name: 'sub', arity: 2, run: C.sub, exact: (a, b) => a - b },
  { name: 'mul', arity: 2, run: C.mul, exact: (a, b) => a * b },
  // 2.5 ulps for divisors of magnitude 2^-14 .. 2^14; WGSL bounds nothing outside (NVIDIA multiplies by an
  // f16 reciprocal, which overflows for a subnormal divisor: 2^-24 / 2^-23 gives inf there, measured).
  { name: 'div', arity: 2, run: C.div, exact: (a, b) => a / b, gpuError: (_a, b, want) => (Math.abs(b) >= 2 ** -14 && Math.abs(b) <= 2 ** 14 ? 2.5 * f16Ulp(want) : Infinity) },
  { name: 'maximum', arity: 2, run: C.maximum, exact: (a, b) => Math.max(a, b) },
  { name: 'minimum', arity: 2, run: C.minimum, exact: (a, b) => Math.min(a, b) },
  { name: 'neg', arity: 1, run: (a) => C.neg(a), exact: (a) => -a },
  { name: 'abs', arity: 1, run: (a) => C.abs(a), exact: (a) => Math.abs(a) },
  { name: 'relu', arity: 1, run: (a) => C.relu(a), exact: (a) => (Number.isNaN(a) ? NaN : Math.max(a, 0)) },
  { name: 'sqrt', arity: 1, run: (a) => C.sqrt(a), exact: (a) => Math.sqrt(a), gpuError: ulps(2.5) },
  { name: 'exp', arity: 1, run: (a) => C.exp(a), exact: (a) => Math.exp(a), gpuError: (a, _b, want) => (3 + 2 * Math.abs(a)) * f16Ulp(want) },
  { name: 'log', arity: 1, run: (a) => C.log(a), exact: (a) => Math.log(a), gpuError: (a, _b, want) => (a >= 0.5 && a <= 2 ? 2 ** -7 : 3 * f16Ulp(want)) },
  { name: 'tanh', arity: 1, run: (a) => C.tanh(a), exact: (a) => Math.tanh(a), gpuError: (_a, _b, want) => Math.max(2 ** -7, 4 * f16Ulp(want)) },
  { name: 'addScalar(0.1)', arity: 1, run: (a) => C.addScalar(a, 0.1), exact: (a) => a + oracleF16(0.1) },
  { name: 'mulScalar(3)', arity: 1, run: (a) => C.mulScalar(a, 3), exact: (a) => a * 3 },
];

/** f16 inputs (already f16 values) of length n: edge values first, then a spread of magnitudes. */
export function f16Inputs(n: number, seed: number): number[] {
  const rng = C.mulberry32(seed);
  const edges = edgeValues().map(oracleF16);
  return Array.from({ length: n }, (_, i) => (i < edges.length ? edges[(i * 7 + seed) % edges.length]! : oracleF16((rng() * 2 - 1) * 2 ** Math.floor(rng() * 30 - 14))));
}
