// What differs between the gpu.js modes, behind one interface: where a buffer's data lives and how it is
// written, read, passed to a kernel and replaced by a kernel's result, and how kernels are lowered and
// configured. One implementation per mode (runtime-host.ts: 'webasm' and 'cpu'; runtime-webgpu.ts;
// runtime-headlessgl.ts; runtime-webgl2.ts), chosen once when the backend is made.
import type { GpujsBuffer, DeviceHandle } from './buffer.js';
import type { GpuJsKernelFn, GpuJsKernelSettings } from './gpujs-types.js';
import type { LoweredParam } from './lower.js';
import type { GpujsMode } from './modes.js';

export interface ModeRuntime {
  readonly mode: GpujsMode;
  /** The mode gpu.js's kernel class reports when it runs a kernel itself, where it is not `mode` ('gpu'
   *  for its GL kernels): anything else means gpu.js fell back to another engine. */
  readonly kernelMode?: string;
  /** The description of the mode's engine (the backend's description quotes it). */
  readonly detail: string;
  /** Whether large kernels run on gpu.js's worker pool ('webasm' with threads). */
  readonly threads: boolean;
  /** f32 values are rounded to f32 after every operation and as uniforms (the mode computes in float64). */
  readonly roundF32: boolean;
  /** Float division is correctly rounded (see LowerOptions). */
  readonly exactDivision: boolean;
  /** A kernel always writes its whole output (a new pipeline handle), so a dispatch over fewer elements
   *  than the output holds needs the kernel variant that keeps the rest. */
  readonly writesWholeOutput: boolean;
  /** Gives a new buffer its (zero) storage where the mode needs one at once. */
  allocate(b: GpujsBuffer): void;
  write(b: GpujsBuffer, data: Float32Array, offset: number): void;
  read(b: GpujsBuffer): Float32Array | Promise<Float32Array>;
  /** The kernel argument for a buffer of at least one element. */
  argument(b: GpujsBuffer): unknown;
  /** A one-element argument for a buffer the kernel never reads (an empty one, or at build time). */
  placeholder(): unknown;
  /** The mode's kernel settings (argument types, pipeline, tactic). */
  kernelSettings(params: LoweredParam[]): Partial<GpuJsKernelSettings>;
  /** Makes a kernel's `result` (its first `n` outputs) the contents of `out`; throws if it is not what the mode returns. */
  store(out: GpujsBuffer, result: unknown, n: number, where: string, fn: GpuJsKernelFn): void;
  /** Releases what the runtime holds itself (after every queued operation has finished). */
  destroy(): void;
}

/** gpu.js argument types: `arrayType` for buffers, 'Float' for uniforms. */
export function argumentTypes(params: LoweredParam[], arrayType: string): string[] {
  return params.map((p) => (p.kind === 'buffer' ? arrayType : 'Float'));
}

/** The device modes' store: the pipeline handle gpu.js returned replaces the buffer's contents. */
export function storeHandle(out: GpujsBuffer, result: unknown, where: string): void {
  const h = result as DeviceHandle;
  if (!h || typeof h.delete !== 'function') throw new Error(`${where}: gpu.js returned ${describe(h)} instead of a pipeline handle`);
  const old = out.handle;
  out.handle = h;
  out.writable = false;
  out.host = null;
  old?.delete();
}

export function describe(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as Float32Array).length})`;
  return typeof v === 'object' ? (v as object).constructor.name : typeof v;
}
