// Size limits of the gpu.js lowering. Values inside a gpu.js kernel are f32 on its device modes, and
// integers (indices, sizes, i32 tensors) are carried as floats: exact up to 2^24. So every buffer a
// kernel binds has at most 2^24 elements, and every i32 value (uniform or tensor element) stays within
// ±2^24. Larger sizes are refused before dispatch, with the numbers.

/** Largest integer every f32 holds exactly, and so the largest buffer (in elements) a kernel may bind. */
export const EXACT_INT = 2 ** 24;

export function checkElementCount(backend: string, what: string, elements: number): void {
  if (elements > EXACT_INT) {
    throw new Error(
      `${backend}: ${what} has ${elements} elements; gpu.js kernels compute indices in f32, exact up to ` +
      `${EXACT_INT} elements per buffer (${EXACT_INT * 4} bytes), so split it into parts of at most ${EXACT_INT} elements`);
  }
}

export function checkIntValue(backend: string, what: string, value: number): void {
  if (!(Math.abs(value) <= EXACT_INT)) {
    throw new Error(`${backend}: ${what} is ${value}; integers inside gpu.js kernels are f32, exact only within ±${EXACT_INT}`);
  }
}

/** Checks i32 data for the f32 representation: the index and value of the first element out of range. */
export function checkIntData(backend: string, what: string, data: ArrayLike<number>): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (!(Math.abs(v) <= EXACT_INT) || !Number.isInteger(v)) {
      throw new Error(`${backend}: ${what}: element ${i} is ${v}; i32 values on gpu.js are stored as f32 and must be integers within ±${EXACT_INT}`);
    }
  }
}
