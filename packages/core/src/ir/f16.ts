// IEEE 754 binary16 (f16) on the host: rounding a number to the nearest f16 (ties to even, subnormals
// down to 2^-24, overflow to an infinity, NaN kept), and the 16-bit encoding. The CPU reference rounds
// every f16 result with f16Round, as it rounds f32 results with Math.fround; the WebGPU backend writes
// and reads f16 buffers through the encoding. Written here rather than taken from a package: it is a
// few lines, Node 20 has no Math.f16round, and tests/core/f16.test.ts checks it against an oracle built
// independently (a search over every finite f16 value).

/** The largest finite f16, 65504 = (2 - 2^-10) * 2^15. */
export const F16_MAX = 65504;
/** The smallest positive (subnormal) f16, 2^-24. */
export const F16_MIN_SUBNORMAL = 2 ** -24;
/** The smallest positive normal f16, 2^-14. */
export const F16_MIN_NORMAL = 2 ** -14;
/** Halfway between F16_MAX and 2^16: from here up, rounding to nearest gives an infinity. */
const OVERFLOW = 65520;

/** floor(log2(a)) for a finite a > 0, exact (Math.log2 may round up just below a power of two). */
function exponentOf(a: number): number {
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  return e;
}

/** `x` rounded to the nearest f16 value, ties to even. */
export function f16Round(x: number): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  const a = Math.abs(x);
  const sign = x < 0 ? -1 : 1;
  if (a >= OVERFLOW) return sign * Infinity;
  // The spacing of f16 values around a: 2^(e - 10) for normals, 2^-24 for subnormals.
  const quantum = 2 ** (Math.max(exponentOf(a), -14) - 10);
  const m = a / quantum; // exact: a power-of-two scaling of a double
  let r = Math.round(m);
  if (r - m === 0.5 && r % 2 === 1) r--; // Math.round takes halves up; ties go to the even neighbour
  return sign * r * quantum;
}

/** The binary16 encoding of f16Round(x); every NaN becomes the quiet NaN 0x7e00. */
export function f16Bits(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const r = f16Round(x);
  const sign = r < 0 || Object.is(r, -0) ? 0x8000 : 0;
  const a = Math.abs(r);
  if (a === Infinity) return sign | 0x7c00;
  if (a < F16_MIN_NORMAL) return sign | (a / F16_MIN_SUBNORMAL);
  const e = exponentOf(a);
  return sign | ((e + 15) << 10) | (a / 2 ** (e - 10) - 1024);
}

/** The value of a binary16 encoding. */
export function f16FromBits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const man = h & 0x3ff;
  if (exp === 0) return sign * man * F16_MIN_SUBNORMAL;
  if (exp === 0x1f) return man ? NaN : sign * Infinity;
  return sign * (1024 + man) * 2 ** (exp - 25);
}

let decodeTable: Float32Array | null = null;

/** Decodes f16 encodings to numbers (a table of all 65536 values, built on first use). */
export function decodeF16(bits: Uint16Array): Float32Array {
  if (!decodeTable) {
    decodeTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) decodeTable[h] = f16FromBits(h);
  }
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = decodeTable[bits[i]!]!;
  return out;
}

/** Encodes numbers as f16 (each rounded to nearest, ties to even). */
export function encodeF16(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f16Bits(values[i]!);
  return out;
}
