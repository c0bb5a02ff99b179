// The gpu.js backend: map kernels of the IR, lowered to gpu.js kernel source (lower.ts, kernels.ts), run in
// one gpu.js mode. Buffers live where the mode computes: a host Float32Array in 'webasm' and 'cpu' (gpu.js
// copies arguments into its WebAssembly memory per call and returns a fresh array), a gpu.js pipeline
// handle in 'webgpu' (a storage buffer that passes from kernel to kernel without readback) and a
// pipeline texture in 'headlessgl'; what differs per mode is one ModeRuntime (mode-runtime.ts). Every
// operation (write, dispatch, readback copy, free) goes through one ordered queue (queue.ts), because
// gpu.js 'webgpu' kernels (and threaded 'webasm' kernels) finish asynchronously while the Backend
// contract's dispatch is synchronous.
import type {
  Backend, Bindings, Capabilities, DType, DeviceBuffer, Executable, Grid, Kernel, MemoryStats,
} from '@cce/core';
import { MemoryCounter, checkBindings, checkCapabilities, kernelHash, validateKernel } from '@cce/core';
import { GpujsBuffer } from './buffer.js';
import { DeviceErrorWatch } from './device-errors.js';
import type { DeviceLike, GpuJsInstance, GpuJsKernelFn, GpuJsModule } from './gpujs-types.js';
import { type GpujsExecutable, KernelBuilder, TAIL_UNIFORM } from './kernels.js';
import { EXACT_INT, checkElementCount, checkIntData, checkIntValue } from './limits.js';
import type { LoweredKernel } from './lower.js';
import type { ModeRuntime } from './mode-runtime.js';
import type { GpujsMode, ModeChoice, ModeProbe } from './modes.js';
import { OpQueue } from './queue.js';
import { CpuRuntime, WebasmRuntime } from './runtime-host.js';
import { HeadlessGlRuntime } from './runtime-headlessgl.js';
import { WebGl2Runtime } from './runtime-webgl2.js';
import { WebGpuRuntime } from './runtime-webgpu.js';

export interface GpujsBackendOptions {
  /**
   * 'webasm': run large kernels on gpu.js's worker pool (default: where wasm threads exist): those with a
   * loop from 4096 outputs, loop-free ones from 2^18.
   */
  threads?: boolean;
}

export class GpujsBackend implements Backend {
  readonly name: string;
  readonly description: string;
  readonly capabilities: Capabilities;
  readonly mode: GpujsMode;
  /** The one-line account of the mode choice. */
  readonly selection: string;
  private readonly gpu: GpuJsInstance;
  private readonly runtime: ModeRuntime;
  private readonly kernels: KernelBuilder;
  private readonly device: DeviceLike | null;
  private readonly queue = new OpQueue();
  private readonly cache = new Map<string, GpujsExecutable>();
  private readonly runPaths = new Map<string, number>();
  private readonly counter = new MemoryCounter();
  private destroyed = false;
  private readonly deviceErrors: DeviceErrorWatch;

  constructor(mod: GpuJsModule, choice: ModeChoice, opts: GpujsBackendOptions = {}) {
    this.mode = choice.probe.mode;
    this.name = `gpujs:${this.mode}`;
    this.selection = choice.report;
    this.device = choice.probe.context?.device ?? null;
    this.runtime = modeRuntime(mod, choice.probe, opts);
    const skipped = /; skipped (.*)$/.exec(choice.report)?.[1];
    this.description = `gpu.js '${this.mode}' mode${choice.report.includes('(auto)') ? ' (auto)' : ''}: ${this.runtime.detail}${skipped ? `; skipped ${skipped}` : ''}`;
    this.gpu = new mod.GPU({ mode: this.mode });
    this.kernels = new KernelBuilder(this.gpu, this.runtime, this.name);
    this.deviceErrors = new DeviceErrorWatch(this.device);
    const deviceMax = this.device ? Math.min(this.device.limits.maxStorageBufferBindingSize, this.device.limits.maxBufferSize) : Infinity;
    const maxBytes = Math.min(EXACT_INT * 4, deviceMax);
    this.capabilities = {
      features: new Set(),
      mapOnly: true,
      limits: {
        maxStorageBufferBindingSize: maxBytes,
        maxBufferSize: maxBytes,
        maxWorkgroupStorageSize: 0,
        maxInvocationsPerWorkgroup: 1024,
        maxWorkgroupsPerDimension: 65535,
      },
    };
  }

  // ---- buffers ----

  allocate(length: number, dtype: DType): DeviceBuffer {
    this.alive();
    if (!Number.isInteger(length) || length < 0) throw new Error(`${this.name}: cannot allocate ${length} elements`);
    checkElementCount(this.name, `a ${dtype} buffer`, length);
    const deviceMax = this.capabilities.limits.maxStorageBufferBindingSize;
    if (length * 4 > deviceMax) {
      throw new Error(`${this.name}: a buffer of ${length} elements (${length * 4} bytes) exceeds this device's largest storage binding of ${deviceMax} bytes`);
    }
    const buf = new GpujsBuffer(length, dtype);
    this.runtime.allocate(buf);
    this.counter.allocated(buf.bytes);
    return buf;
  }

  free(buffer: DeviceBuffer): void {
    const b = this.own(buffer, 'free');
    b.freed = true;
    this.counter.freed(b.bytes);
    this.queue.enqueue(() => {
      b.handle?.delete();
      b.handle = null;
      b.host = null;
    }, () => {});
  }

  write(buffer: DeviceBuffer, data: ArrayLike<number>, offset = 0): void {
    const b = this.own(buffer, 'write');
    if (!Number.isInteger(offset) || offset < 0 || offset + data.length > b.length) {
      throw new Error(`${this.name}: write of ${data.length} elements at ${offset} exceeds buffer of ${b.length}`);
    }
    if (b.dtype === 'i32') checkIntData(this.name, 'write to an i32 buffer', data);
    const snap = Float32Array.from(data);
    const whole = offset === 0 && data.length === b.length;
    this.queue.enqueue(() => {
      if (snap.length) this.runtime.write(b, snap, offset);
      if (whole) b.error = null;
    }, (e) => { b.error = e; });
  }

  read(buffer: DeviceBuffer): Promise<Float32Array | Int32Array> {
    const b = this.own(buffer, 'read');
    return new Promise<Float32Array>((resolve, reject) => {
      this.queue.enqueue(() => {
        if (b.error) throw b.error;
        // The copy is ordered here; waiting for it does not hold back later operations.
        Promise.resolve(this.runtime.read(b)).then(resolve, reject);
      }, reject);
    }).then((data) => {
      this.deviceErrors.throwPending(this.name);
      return b.dtype === 'i32' ? Int32Array.from(data) : data;
    });
  }

  // ---- kernels ----

  compile(kernel: Kernel): Executable {
    this.alive();
    const hash = kernelHash(kernel);
    const hit = this.cache.get(hash);
    if (hit) return hit;
    const info = validateKernel(kernel);
    checkCapabilities(kernel, info, this.capabilities, this.name);
    const main = this.kernels.build(kernel, false);
    const exe: GpujsExecutable = { kernel, hash, main, tail: null };
    this.cache.set(hash, exe);
    return exe;
  }

  dispatch(executable: Executable, bindings: Bindings, grid: Grid): void {
    this.alive();
    const exe = executable as GpujsExecutable;
    const kernel = exe.kernel;
    const map = kernel.map!;
    const where = `${this.name}: kernel '${kernel.name}'`;
    // Buffers past exact f32 indexing never exist here: allocate() refuses them.
    checkBindings(kernel, bindings, grid, this.capabilities, this.name);
    const bufs = new Map<string, GpujsBuffer>();
    for (const decl of kernel.buffers) bufs.set(decl.name, this.own(bindings.buffers[decl.name], `kernel '${kernel.name}' binding '${decl.name}'`));
    const uniforms = bindings.uniforms ?? {};
    for (const u of kernel.uniforms) {
      if (u.type !== 'f32') checkIntValue(this.name, `kernel '${kernel.name}' uniform '${u.name}'`, uniforms[u.name]!);
    }
    const out = bufs.get(map.output)!;
    const count = uniforms[map.count]!;
    const [wx, wy] = kernel.workgroupSize;
    const covered = grid[0] * wx * grid[1] * wy;
    const n = Math.max(0, Math.min(count, covered));
    if (grid[2] === 0 || n === 0) return;
    if (n > out.length) throw new Error(`${where}: writes ${n} elements into '${map.output}', which holds ${out.length}`);
    const tail = this.runtime.writesWholeOutput && n < out.length;
    const compiled = tail ? (exe.tail ??= this.kernels.build(kernel, true)) : exe.main;
    const fn = this.kernels.runnerFor(kernel, compiled, n);
    this.queue.enqueue(() => this.runKernel(compiled.lowered, fn, bufs, uniforms, out, n, tail, where), (e) => { out.error = e; });
  }

  private runKernel(lowered: LoweredKernel, fn: GpuJsKernelFn, bufs: Map<string, GpujsBuffer>, uniforms: Record<string, number>, out: GpujsBuffer, n: number, tail: boolean, where: string): void | Promise<void> {
    const args: unknown[] = [];
    for (const p of lowered.params) {
      if (p.kind === 'uniform') {
        const v = p.name === TAIL_UNIFORM ? n : uniforms[p.name]!;
        args.push(this.runtime.roundF32 && p.type === 'f32' ? Math.fround(v) : v);
        continue;
      }
      const b = bufs.get(p.name)!;
      if (b.error) throw b.error;
      // gpu.js cannot take an empty array (it reads the first element to learn its type); a kernel never
      // reads a buffer of no elements, so any one-element stand-in serves.
      args.push(b.length === 0 ? this.runtime.placeholder() : this.runtime.argument(b));
    }
    fn.setOutput([tail ? out.length : n]);
    let result: unknown;
    try {
      result = fn(...args);
    } catch (e) {
      throw new Error(`${where}: ${(e as Error).message.split('\n')[0]}`);
    }
    if (result && typeof (result as Promise<unknown>).then === 'function') {
      return (result as Promise<unknown>).then(
        (r) => {
          this.countRun(fn);
          this.store(out, r, n, where, fn);
        },
        (e: unknown) => {
          throw new Error(`${where}: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`);
        });
    }
    this.countRun(fn);
    this.store(out, result, n, where, fn);
  }

  private countRun(fn: GpuJsKernelFn): void {
    const path = (fn.kernel as { _lastRunPath?: string | null })._lastRunPath ?? this.mode;
    this.runPaths.set(path, (this.runPaths.get(path) ?? 0) + 1);
  }

  /**
   * Kernel runs so far by how gpu.js executed them: 'webasm' reports 'scalar', 'simd', 'simd+scalar-tail'
   * or 'threaded' (its worker pool); other modes report the mode.
   */
  runCounts(): Record<string, number> {
    return Object.fromEntries(this.runPaths);
  }

  private store(out: GpujsBuffer, result: unknown, n: number, where: string, fn: GpuJsKernelFn): void {
    this.runtime.store(out, result, n, where, fn);
    out.error = null;
  }

  async flush(): Promise<void> {
    await this.queue.drain();
    if (this.device) await this.device.queue.onSubmittedWorkDone();
    this.deviceErrors.throwPending(this.name);
  }

  memory(): MemoryStats {
    return this.counter.stats();
  }

  resetPeak(): void {
    this.counter.resetPeak();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.cache.clear();
    this.deviceErrors.stop();
    const finish = () => {
      this.runtime.destroy();
      void this.gpu.destroy().catch(() => {});
    };
    void this.queue.settle().then(finish, finish);
  }

  private alive(): void {
    if (this.destroyed) throw new Error(`${this.name}: backend was destroyed`);
  }

  private own(buffer: DeviceBuffer | undefined, what: string): GpujsBuffer {
    this.alive();
    if (!(buffer instanceof GpujsBuffer)) throw new Error(`${this.name}: ${what}: not a buffer of this backend`);
    if (buffer.freed) throw new Error(`${this.name}: ${what}: buffer was freed`);
    return buffer;
  }
}

/** The one object that holds what the chosen mode does differently. */
function modeRuntime(mod: GpuJsModule, probe: ModeProbe, opts: GpujsBackendOptions): ModeRuntime {
  switch (probe.mode) {
    case 'webasm':
      return new WebasmRuntime(mod, opts.threads);
    case 'cpu':
      return new CpuRuntime(probe.detail);
    case 'webgpu':
      return new WebGpuRuntime(mod, probe.context!, probe.detail);
    case 'headlessgl':
      return new HeadlessGlRuntime(probe.detail);
    case 'webgl2':
      return new WebGl2Runtime(probe.detail);
  }
}
