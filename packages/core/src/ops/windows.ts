// Work over tensors larger than one storage binding: the element range is cut into windows (BufferRange
// bindings at 256-byte-aligned offsets: RANGE_ALIGNMENT elements, twice as many of f16; optionally of
// whole rows) that each fit the backend's largest binding, one dispatch each.
import { type Backend, type DeviceBuffer, RANGE_ALIGNMENT, bufferRange, rangeAlignment } from '../backend.js';
import type { Kernel } from '../ir/types.js';
import { Tensor } from '../tensor.js';
import { type BufferArg, dispatchKernel, grid1d } from './launch.js';

/** Elements [offset, offset + length) of a buffer. */
export interface Window {
  offset: number;
  length: number;
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/**
 * Windows covering the `n` elements of a tensor made of rows of `rowLength` elements, each holding whole
 * rows and fitting one storage binding (counted at 4 bytes an element), starting at a multiple of
 * `alignment` elements; one window when the whole fits. Refused, naming the op and the sizes, on a
 * backend that cannot bind windows.
 */
export function bindingWindows(op: string, backend: Backend, n: number, rowLength = 1, alignment = RANGE_ALIGNMENT): Window[] {
  const limit = backend.capabilities.limits.maxStorageBufferBindingSize;
  if (n * 4 <= limit) return [{ offset: 0, length: n }];
  if (!backend.capabilities.bindingRanges) {
    throw new Error(`${op}: a tensor of ${n} elements (${n * 4} bytes) exceeds the largest storage binding (${limit} bytes), and backend '${backend.name}' cannot bind windows of a buffer`);
  }
  // Every window starts on a row and on an aligned offset: a multiple of lcm(rowLength, alignment).
  const step = (rowLength / gcd(rowLength, alignment)) * alignment;
  const chunk = Math.floor(limit / 4 / step) * step;
  if (chunk === 0) {
    throw new Error(`${op}: the largest storage binding (${limit} bytes) cannot hold ${step} elements, the smallest aligned window of rows of ${rowLength}`);
  }
  const out: Window[] = [];
  for (let o = 0; o < n; o += chunk) out.push({ offset: o, length: Math.min(chunk, n - o) });
  return out;
}

/** The buffer of `t` (or a buffer) restricted to a window; the whole buffer when the window is all of it. */
export function windowOf(t: BufferArg, w: Window): DeviceBuffer {
  const buf = t instanceof Tensor ? t.buffer : t;
  return w.offset === 0 && w.length === buf.length ? buf : bufferRange(buf, w.offset, w.length);
}

/**
 * Runs a map-shaped kernel (output 'out', uniform 'count', invocation i handles element i of the window)
 * over every window of `n` elements (whole rows of `rowLength`); `whole` buffers are bound unwindowed.
 * `uniforms` may depend on the window (a kernel that needs its position in the tensor).
 */
export function dispatchWindows(op: string, kernel: Kernel, n: number, windowed: Record<string, BufferArg>,
  whole: Record<string, BufferArg>, uniforms: Record<string, number> | ((w: Window) => Record<string, number>),
  backend: Backend, rowLength = 1): void {
  if (n === 0) return;
  const alignment = Math.max(RANGE_ALIGNMENT, ...Object.values(windowed).map((t) => rangeAlignment(t.dtype)));
  for (const w of bindingWindows(op, backend, n, rowLength, alignment)) {
    const buffers: Record<string, BufferArg> = { ...whole };
    for (const [k, t] of Object.entries(windowed)) buffers[k] = windowOf(t, w);
    const grid = grid1d(w.length, kernel.workgroupSize[0], backend.capabilities.limits.maxWorkgroupsPerDimension);
    const u = typeof uniforms === 'function' ? uniforms(w) : uniforms;
    dispatchKernel(backend, kernel, buffers, { ...u, count: w.length }, grid);
  }
}
