// The host modes, 'webasm' and 'cpu' (and 'webgl2', runtime-webgl2.ts): a buffer is a host Float32Array,
// which gpu.js copies into its WebAssembly memory (or reads from JavaScript, or uploads as a texture) per
// call; a kernel returns a fresh array of its outputs.
import type { GpujsBuffer } from './buffer.js';
import type { GpuJsKernelSettings, GpuJsModule } from './gpujs-types.js';
import type { LoweredParam } from './lower.js';
import { type ModeRuntime, argumentTypes, describe } from './mode-runtime.js';

export abstract class HostRuntime implements ModeRuntime {
  abstract readonly mode: 'webasm' | 'cpu' | 'webgl2';
  abstract readonly detail: string;
  abstract readonly threads: boolean;
  abstract readonly roundF32: boolean;
  readonly exactDivision: boolean = true;
  readonly writesWholeOutput = false;

  allocate(b: GpujsBuffer): void {
    b.host = new Float32Array(b.length);
  }

  write(b: GpujsBuffer, data: Float32Array, offset: number): void {
    b.host!.set(data, offset);
  }

  read(b: GpujsBuffer): Float32Array {
    return b.host!.slice();
  }

  argument(b: GpujsBuffer): unknown {
    return b.host!;
  }

  placeholder(): unknown {
    return new Float32Array(1);
  }

  kernelSettings(params: LoweredParam[]): Partial<GpuJsKernelSettings> {
    return { argumentTypes: argumentTypes(params, 'Array') };
  }

  store(out: GpujsBuffer, result: unknown, n: number, where: string): void {
    const r = result as Float32Array;
    if (!(r instanceof Float32Array) || r.length < n) throw new Error(`${where}: gpu.js returned ${describe(r)} for ${n} outputs`);
    this.keep(out, r, n);
  }

  /** Copies the first `n` of a kernel's outputs into the buffer. */
  protected keep(out: GpujsBuffer, r: Float32Array, n: number): void {
    out.host!.set(r.length === n ? r : r.subarray(0, n));
  }

  destroy(): void {}
}

export class WebasmRuntime extends HostRuntime {
  readonly mode = 'webasm';
  readonly detail: string;
  readonly threads: boolean;
  readonly roundF32 = false;

  /** `threads`: run large kernels on the worker pool where wasm threads exist (default true). */
  constructor(mod: GpuJsModule, threads = true) {
    super();
    this.threads = threads && !!mod.WebAssemblyKernel?.isThreadsSupported;
    this.detail = `WebAssembly${mod.WebAssemblyKernel?.isSIMDSupported ? ' SIMD' : ''}, ${this.threads ? 'worker threads' : 'single thread'}`;
  }

  protected override keep(out: GpujsBuffer, r: Float32Array, n: number): void {
    // 'webasm' returns a fresh array per call: adopt it when it covers the whole buffer.
    if (r.length === out.length) out.host = r;
    else super.keep(out, r, n);
  }
}

export class CpuRuntime extends HostRuntime {
  readonly mode = 'cpu';
  readonly threads = false;
  readonly roundF32 = true;

  constructor(readonly detail: string) {
    super();
  }
}
