// The backend's DeviceBuffer: where its data lives depends on the mode (see mode-runtime.ts): a host
// array, a gpu.js pipeline handle, or (in 'headlessgl') either.
import type { DType, DeviceBuffer } from '@cce/core';
import type { GlTextureLike, WebGpuBufferResultLike } from './gpujs-types.js';

export type DeviceHandle = WebGpuBufferResultLike | GlTextureLike;

export class GpujsBuffer implements DeviceBuffer {
  freed = false;
  /** Host copy: the storage in 'webasm' / 'cpu'; in 'headlessgl' the data while no texture holds it. */
  host: Float32Array | null = null;
  /** Pipeline handle holding the data on the device modes. */
  handle: DeviceHandle | null = null;
  /** 'webgpu': the handle's storage buffer was made here, with COPY_DST (gpu.js's outputs lack it). */
  writable = false;
  /** Set when the operation that should have produced this buffer's contents failed. */
  error: Error | null = null;
  constructor(readonly length: number, readonly dtype: DType) {
    // gpu.js computes and stores f32: f16 is refused rather than emulated (packed in pairs of halves,
    // two map invocations would write one word).
    if (dtype === 'f16') throw new Error(`gpujs: cannot allocate an f16 buffer (${length} elements): gpu.js has f32 storage only; use f32, or webgpu with shader-f16`);
  }
  get bytes() {
    return this.length * 4;
  }
}
