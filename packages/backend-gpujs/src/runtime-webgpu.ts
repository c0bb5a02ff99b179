// The 'webgpu' mode: a buffer's data is a gpu.js pipeline handle, a storage buffer that passes from kernel
// to kernel without readback. Kernel outputs are gpu.js's own buffers, which cannot be written to; a
// write first moves such contents into a storage buffer made here, and a read copies to a staging buffer.
import type { GpujsBuffer } from './buffer.js';
import {
  BUFFER_COPY_DST, BUFFER_COPY_SRC, BUFFER_MAP_READ, BUFFER_STORAGE, MAP_MODE_READ,
  type DeviceLike, type GpuJsKernelFn, type GpuJsKernelSettings, type GpuJsModule, type WebGpuBufferResultLike,
  type WebGpuContextLike,
} from './gpujs-types.js';
import type { LoweredParam } from './lower.js';
import { type ModeRuntime, argumentTypes, storeHandle } from './mode-runtime.js';

export class WebGpuRuntime implements ModeRuntime {
  readonly mode = 'webgpu';
  readonly threads = false;
  readonly roundF32 = false;
  readonly exactDivision = false;
  readonly writesWholeOutput = true;
  private readonly device: DeviceLike;
  private dummyHandle: WebGpuBufferResultLike | null = null;

  constructor(private readonly mod: GpuJsModule, private readonly context: WebGpuContextLike, readonly detail: string) {
    this.device = context.device;
  }

  allocate(): void {}

  write(b: GpujsBuffer, data: Float32Array, offset: number): void {
    if (b.handle && !b.writable) {
      // A kernel's output cannot be written to: move the contents into a buffer of our own first
      // (only the part the write leaves unchanged needs copying).
      const old = b.handle as WebGpuBufferResultLike;
      b.handle = null;
      const h = this.handle(b);
      if (data.length < b.length) {
        const enc = this.device.createCommandEncoder();
        enc.copyBufferToBuffer(old.buffer, 0, h.buffer, 0, b.length * 4);
        this.device.queue.submit([enc.finish()]);
      }
      old.delete();
    }
    const h = this.handle(b);
    this.device.queue.writeBuffer(h.buffer, offset * 4, data);
  }

  read(b: GpujsBuffer): Float32Array | Promise<Float32Array> {
    const h = b.handle as WebGpuBufferResultLike | null;
    if (!h || b.length === 0) return new Float32Array(b.length);
    const device = this.device;
    const bytes = b.length * 4;
    const staging = device.createBuffer({ size: bytes, usage: BUFFER_MAP_READ | BUFFER_COPY_DST });
    const enc = device.createCommandEncoder();
    enc.copyBufferToBuffer(h.buffer, 0, staging, 0, bytes);
    device.queue.submit([enc.finish()]);
    return staging.mapAsync(MAP_MODE_READ, 0, bytes).then(() => {
      const out = new Float32Array(staging.getMappedRange(0, bytes).slice(0));
      staging.unmap();
      staging.destroy();
      return out;
    }, (e: unknown) => {
      staging.destroy();
      throw e;
    });
  }

  argument(b: GpujsBuffer): unknown {
    return this.handle(b);
  }

  placeholder(): unknown {
    if (!this.dummyHandle) {
      const buffer = this.device.createBuffer({ size: 4, usage: BUFFER_STORAGE | BUFFER_COPY_SRC | BUFFER_COPY_DST });
      this.dummyHandle = new this.mod.WebGPUBufferResult({ buffer, output: [1], componentCount: 1, context: this.context, kernel: null });
    }
    return this.dummyHandle;
  }

  kernelSettings(params: LoweredParam[]): Partial<GpuJsKernelSettings> {
    return { argumentTypes: argumentTypes(params, 'WebGPUBuffer'), pipeline: true };
  }

  store(out: GpujsBuffer, result: unknown, _n: number, where: string, fn: GpuJsKernelFn): void {
    storeHandle(out, result, where);
    releaseKernelOutput(fn);
  }

  destroy(): void {
    this.dummyHandle?.delete();
    this.dummyHandle = null;
  }

  /** The buffer's pipeline handle (a zero-filled storage buffer if it has none yet). */
  private handle(b: GpujsBuffer): WebGpuBufferResultLike {
    if (b.handle) return b.handle as WebGpuBufferResultLike;
    const buffer = this.device.createBuffer({ size: Math.max(4, b.length * 4), usage: BUFFER_STORAGE | BUFFER_COPY_SRC | BUFFER_COPY_DST });
    const h = new this.mod.WebGPUBufferResult({ buffer, output: [Math.max(1, b.length)], componentCount: 1, context: this.context, kernel: null });
    b.handle = h;
    b.writable = true;
    return h;
  }
}

/**
 * gpu.js 'webgpu' keeps a reference to each kernel's latest output buffer until the kernel runs again (an
 * immutable pipeline kernel then drops it). The handle we hold has its own reference, so drop the
 * kernel's now: otherwise every compiled kernel pins one output buffer that no memory statistic counts.
 * (gpu.js 2.24.1 internals, guarded: skipped when the fields are not there.)
 */
function releaseKernelOutput(fn: GpuJsKernelFn): void {
  const k = fn.kernel as { outputBuffer?: { _refs?: number; destroy(): void } | null; immutable?: boolean; pipeline?: boolean };
  const buf = k.outputBuffer;
  if (!buf || !k.immutable || !k.pipeline || typeof buf._refs !== 'number' || buf._refs < 2) return;
  buf._refs--;
  k.outputBuffer = null;
}
