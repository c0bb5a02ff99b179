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
  constructor(readonly length: number, readonly dtype: DType) {}
  get bytes() {
    return this.length * 4;
  }
}
