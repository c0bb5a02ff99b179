// The 'headlessgl' mode: a buffer's data is a gpu.js pipeline texture once a kernel has written it, and a
// host array while only writes have (a write into a texture reads it back to the host first).
import type { GpujsBuffer } from './buffer.js';
import type { GlTextureLike, GpuJsKernelSettings } from './gpujs-types.js';
import { type ModeRuntime, storeHandle } from './mode-runtime.js';

export class HeadlessGlRuntime implements ModeRuntime {
  readonly mode = 'headlessgl';
  readonly threads = false;
  readonly roundF32 = false;
  readonly exactDivision = false;
  readonly writesWholeOutput = true;
  readonly kernelMode = 'gpu';

  constructor(readonly detail: string) {}

  allocate(): void {}

  write(b: GpujsBuffer, data: Float32Array, offset: number): void {
    if (b.handle) {
      b.host = glToHost(b);
      b.handle.delete();
      b.handle = null;
    }
    b.host ??= new Float32Array(b.length);
    b.host.set(data, offset);
  }

  read(b: GpujsBuffer): Float32Array {
    return b.handle ? glToHost(b) : (b.host?.slice() ?? new Float32Array(b.length));
  }

  argument(b: GpujsBuffer): unknown {
    return b.handle ?? (b.host ??= new Float32Array(b.length));
  }

  placeholder(): unknown {
    return new Float32Array(1);
  }

  kernelSettings(): Partial<GpuJsKernelSettings> {
    return { pipeline: true, tactic: 'precision' };
  }

  store(out: GpujsBuffer, result: unknown, _n: number, where: string): void {
    storeHandle(out, result, where);
  }

  destroy(): void {}
}

function glToHost(b: GpujsBuffer): Float32Array {
  const arr = (b.handle as GlTextureLike).toArray();
  const out = new Float32Array(b.length);
  out.set((arr as ArrayLike<number>).length > b.length ? Array.prototype.slice.call(arr, 0, b.length) as number[] : arr);
  return out;
}
