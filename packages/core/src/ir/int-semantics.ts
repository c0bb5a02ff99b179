// The IR's integer arithmetic and float-to-integer conversions (WGSL's): the CPU reference runs them and
// the WebGPU backend folds constant expressions with them, so both give the same values.

/** i32 division: truncating; e / 0 == e. */
export const idiv = (a: number, b: number) => (b === 0 ? a : (a / b) | 0);
/** i32 remainder: the sign of the dividend; e % 0 == 0. */
export const imod = (a: number, b: number) => (b === 0 ? 0 : a % b | 0);
export const udiv = (a: number, b: number) => (b === 0 ? a : Math.floor(a / b) >>> 0);
export const umod = (a: number, b: number) => (b === 0 ? 0 : a % b >>> 0);
/** f32 to i32: truncating, saturating at the largest f32 values in range, NaN to 0. */
export const f2i = (x: number) => (Number.isNaN(x) ? 0 : Math.max(-2147483648, Math.min(2147483520, Math.trunc(x))) | 0);
export const f2u = (x: number) => (Number.isNaN(x) ? 0 : Math.max(0, Math.min(4294967040, Math.trunc(x))) >>> 0);
