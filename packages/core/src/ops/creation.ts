// Tensor creation: from host arrays, constants, ranges and seeded random numbers.
import type { Backend, DType } from '../backend.js';
import { getBackend } from '../registry.js';
import { Tensor, checkBufferSize, checkShape } from '../tensor.js';
import { fillKernel } from './kernels.js';
import { dispatchWindows } from './windows.js';
import { fmt, sizeOf } from './shape-utils.js';
import { type Rng, defaultRng, mulberry32 } from '../random.js';

export interface CreateOptions {
  dtype?: DType;
  backend?: Backend;
}

/** A tensor holding `data` (row-major) in `shape` (default: 1-D). */
export function tensor(data: ArrayLike<number>, shape?: readonly number[], opts: CreateOptions = {}): Tensor {
  const s = shape ?? [data.length];
  checkShape(s);
  if (sizeOf(s) !== data.length) throw new Error(`tensor: ${data.length} values do not fill shape ${fmt(s)}`);
  const dtype = opts.dtype ?? (data instanceof Int32Array ? 'i32' : 'f32');
  if (dtype === 'i32') {
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (!Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) throw new Error(`tensor: value ${v} at ${i} is not an i32`);
    }
  }
  const t = Tensor.empty(s, dtype, opts.backend ?? getBackend(), 'tensor');
  if (data.length) t.backend.write(t.buffer, data);
  if (dtype === 'i32') t.hostValues = Int32Array.from(data);
  return t;
}

function filled(op: string, shape: readonly number[], value: number, opts: CreateOptions): Tensor {
  const dtype = opts.dtype ?? 'f32';
  const t = Tensor.empty(shape, dtype, opts.backend ?? getBackend(), op);
  dispatchWindows(op, fillKernel(dtype), t.size, { out: t }, {}, { value }, t.backend);
  return t;
}

export const full = (shape: readonly number[], value: number, opts: CreateOptions = {}) => filled('full', shape, value, opts);
export const zeros = (shape: readonly number[], opts: CreateOptions = {}) => filled('zeros', shape, 0, opts);
export const ones = (shape: readonly number[], opts: CreateOptions = {}) => filled('ones', shape, 1, opts);
export const zerosLike = (t: Tensor) => zeros(t.shape, { dtype: t.dtype, backend: t.backend });
export const onesLike = (t: Tensor) => ones(t.shape, { dtype: t.dtype, backend: t.backend });

/** [start, start + step, ...) below `end`. */
export function arange(start: number, end?: number, step = 1, opts: CreateOptions = {}): Tensor {
  const [lo, hi] = end === undefined ? [0, start] : [start, end];
  if (step === 0) throw new Error('arange: step must not be 0');
  const n = Math.max(0, Math.ceil((hi - lo) / step));
  const data = Array.from({ length: n }, (_, i) => lo + i * step);
  return tensor(data, [n], { dtype: opts.dtype ?? (Number.isInteger(lo) && Number.isInteger(step) ? 'i32' : 'f32'), ...opts });
}

export interface RandomOptions {
  backend?: Backend;
  /** A seed for a private generator; without one the global generator (see manualSeed) is used. */
  seed?: number;
}

const rngFor = (opts: RandomOptions): Rng => (opts.seed === undefined ? defaultRng() : mulberry32(opts.seed));

/** The element count of a host-generated tensor, checked against the backend before the host data exist. */
function hostCount(op: string, shape: readonly number[], dtype: DType, opts: RandomOptions): number {
  checkShape(shape);
  checkBufferSize(op, shape, dtype, opts.backend ?? getBackend());
  return sizeOf(shape);
}

/** Normally distributed values (mean, std). */
export function randn(shape: readonly number[], opts: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  const n = hostCount('randn', shape, 'f32', opts);
  const rng = rngFor(opts);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    // Box-Muller: two normals per two uniforms.
    const u = 1 - rng();
    const v = rng();
    const r = Math.sqrt(-2 * Math.log(u));
    data[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) data[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  const mean = opts.mean ?? 0;
  const std = opts.std ?? 1;
  for (let i = 0; i < n; i++) data[i] = mean + std * data[i]!;
  return tensor(data, shape, { backend: opts.backend });
}

/** Uniform values in [low, high). */
export function uniform(shape: readonly number[], low = 0, high = 1, opts: RandomOptions = {}): Tensor {
  const n = hostCount('uniform', shape, 'f32', opts);
  const rng = rngFor(opts);
  const data = Float64Array.from({ length: n }, () => low + (high - low) * rng());
  return tensor(data, shape, { backend: opts.backend });
}

/** Uniform integers in [low, high), as i32; the bounds are i32 integers with low < high. */
export function randint(shape: readonly number[], low: number, high: number, opts: RandomOptions = {}): Tensor {
  if (!Number.isInteger(low) || !Number.isInteger(high) || low < -(2 ** 31) || high > 2 ** 31) {
    throw new Error(`randint: low and high must be integers within the i32 range, got low ${low} and high ${high}`);
  }
  if (high <= low) throw new Error(`randint: the range [low, high) = [${low}, ${high}) is empty: high must exceed low`);
  const n = hostCount('randint', shape, 'i32', opts);
  const rng = rngFor(opts);
  const data = Int32Array.from({ length: n }, () => low + Math.floor((high - low) * rng()));
  return tensor(data, shape, { backend: opts.backend, dtype: 'i32' });
}
