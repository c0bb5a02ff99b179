// Elementwise work over tensors larger than one storage binding: the element range is cut into windows
// (BufferRange bindings, 64-element aligned) that each fit the backend's largest binding, one dispatch each.
import * as C from '@cce/core';
import type { Backend, DeviceBuffer, Kernel, Tensor } from '@cce/core';

export interface Window {
  offset: number;
  length: number;
}

/** Windows covering [0, n) that each fit one storage binding; one window when the whole fits. */
export function bindingWindows(op: string, backend: Backend, n: number): Window[] {
  const limit = backend.capabilities.limits.maxStorageBufferBindingSize;
  if (n * 4 <= limit) return [{ offset: 0, length: n }];
  if (!backend.capabilities.bindingRanges) {
    throw new Error(`${op}: a tensor of ${n} elements (${n * 4} bytes) exceeds the largest storage binding (${limit} bytes), and backend '${backend.name}' cannot bind windows of a buffer`);
  }
  const chunk = Math.floor(limit / 4 / C.RANGE_ALIGNMENT) * C.RANGE_ALIGNMENT;
  if (chunk === 0) throw new Error(`${op}: the largest storage binding (${limit} bytes) holds fewer than ${C.RANGE_ALIGNMENT} elements`);
  const out: Window[] = [];
  for (let o = 0; o < n; o += chunk) out.push({ offset: o, length: Math.min(chunk, n - o) });
  return out;
}

/** The buffer of `t` (or a buffer) restricted to a window; the whole buffer when the window is all of it. */
export function windowOf(t: Tensor | DeviceBuffer, w: Window): DeviceBuffer {
  const buf = t instanceof C.Tensor ? t.buffer : t;
  return w.offset === 0 && w.length === buf.length ? buf : C.bufferRange(buf, w.offset, w.length);
}

/**
 * Runs a map-shaped kernel (output 'out', uniform 'count', invocation i handles element i) over every
 * window of `n` elements; `whole` buffers are bound unwindowed (such as a 1-element clip factor).
 */
export function dispatchWindows(op: string, kernel: Kernel, n: number, windowed: Record<string, Tensor | DeviceBuffer>,
  whole: Record<string, Tensor | DeviceBuffer>, uniforms: Record<string, number>, backend: Backend): void {
  if (n === 0) return;
  for (const w of bindingWindows(op, backend, n)) {
    const buffers: Record<string, DeviceBuffer> = {};
    for (const [k, t] of Object.entries(windowed)) buffers[k] = windowOf(t, w);
    for (const [k, t] of Object.entries(whole)) buffers[k] = t instanceof C.Tensor ? t.buffer : t;
    const grid = C.grid1d(w.length, kernel.workgroupSize[0], backend.capabilities.limits.maxWorkgroupsPerDimension);
    C.dispatchKernel(backend, kernel, buffers, { ...uniforms, count: w.length }, grid);
  }
}

const WG = 256;

const fillF32 = (): Kernel => C.memoKernel('nn:fill_f32', () =>
  C.defineMapKernel('nn_fill_f32', { workgroupSize: WG, outputType: 'f32' }, (b) => b.uniform('value', 'f32'), (_ctx, v) => v));

const copyF32 = (): Kernel => C.memoKernel('nn:copy_f32', () =>
  C.defineMapKernel('nn_copy_f32', { workgroupSize: WG, outputType: 'f32' }, (b) => b.input('src', 'f32'), ({ index }, src) => src.at(index)));

/** An f32 tensor of `shape` filled with `value`, written window by window (any size up to the largest buffer). */
export function filledF32(shape: readonly number[], value: number, backend: Backend, op = 'filled'): Tensor {
  const t = C.Tensor.empty(shape, 'f32', backend, op);
  dispatchWindows(op, fillF32(), t.size, { out: t }, {}, { value }, backend);
  return t;
}

/** Copies src's elements into dst (same size, f32), window by window. */
export function copyInto(dst: Tensor, src: Tensor, op = 'copy'): void {
  if (src.size !== dst.size) throw new Error(`${op}: copying ${src.size} elements into ${dst.size}`);
  dispatchWindows(op, copyF32(), dst.size, { out: dst, src }, {}, {}, dst.backend);
}
