// The gpu.js backend: map kernels of the IR, lowered to gpu.js kernel source (lower.ts), run in one
// gpu.js mode. Buffers live where the mode computes: a host Float32Array in 'webasm' and 'cpu' (gpu.js
// copies arguments into its WebAssembly memory per call and returns a fresh array), a gpu.js pipeline
// handle in 'webgpu' (a storage buffer that passes from kernel to kernel without readback) and a
// pipeline texture in 'headlessgl'. Every operation (write, dispatch, readback copy, free) goes through
// one ordered queue (queue.ts), because gpu.js 'webgpu' kernels (and threaded 'webasm' kernels) finish
// asynchronously while the Backend contract's dispatch is synchronous.
import type {
  Backend, Bindings, Capabilities, DType, DeviceBuffer, Executable, Grid, Kernel, MemoryStats,
} from '@cce/core';
import { MemoryCounter, checkBindings, checkCapabilities, kernelHash, validateKernel } from '@cce/core';
import {
  BUFFER_COPY_DST, BUFFER_COPY_SRC, BUFFER_MAP_READ, BUFFER_STORAGE, MAP_MODE_READ,
  type DeviceLike, type GlTextureLike, type GpuJsInstance, type GpuJsKernelFn, type GpuJsKernelSettings,
  type GpuJsModule, type WebGpuBufferResultLike, type WebGpuContextLike,
} from './gpujs-types.js';
import { EXACT_INT, checkElementCount, checkIntData, checkIntValue } from './limits.js';
import { type LoweredKernel, lowerMapKernel } from './lower.js';
import type { GpujsMode, ModeChoice } from './modes.js';
import { OpQueue } from './queue.js';

/** gpu.js caps loops at loopMaxIterations; the IR's loops are bounded by their own ranges. */
const LOOP_MAX = 2 ** 31 - 1;
/**
 * Device errors that reach no error scope (gpu.js sets a handler that only logs them), per device, to
 * every backend on that device: they are reported by the next read or flush.
 */
const deviceListeners = new WeakMap<DeviceLike, Set<(message: string) => void>>();

function listenForDeviceErrors(device: DeviceLike, listener: (message: string) => void): () => void {
  let set = deviceListeners.get(device);
  if (!set) {
    const listeners = new Set<(message: string) => void>();
    set = listeners;
    deviceListeners.set(device, listeners);
    const previous = device.onuncapturederror;
    device.onuncapturederror = (event) => {
      for (const l of listeners) l(event.error.message);
      if (!listeners.size) previous?.(event);
    };
  }
  set.add(listener);
  return () => set.delete(listener);
}

/** The uniform that the tail-keeping variant compares against (outputs past it keep their values). */
const TAIL_UNIFORM = 'cce_n';

type DeviceHandle = WebGpuBufferResultLike | GlTextureLike;

class GpujsBuffer implements DeviceBuffer {
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

interface Compiled {
  lowered: LoweredKernel;
  fn: GpuJsKernelFn;
  /** 'webasm' with threads: the same kernel in gpu.js's async mode, which splits runs over its worker pool. */
  threaded: GpuJsKernelFn | null;
  /** Whether the kernel loops (then its per-element work is large enough for threads at smaller sizes). */
  loops: boolean;
}

/**
 * 'webasm' worker-pool thresholds: a pool round trip costs more than a loop-free kernel's work below
 * about 2^18 elements (measured here), while a kernel with a loop (a matmul, a reduction) gains from
 * 4096 elements, gpu.js's own threshold.
 */
const THREADS_MIN_LOOP = 4096;
const THREADS_MIN_PLAIN = 2 ** 18;

interface GpujsExecutable extends Executable {
  main: Compiled;
  /** The variant that keeps outputs past the count (device modes), compiled on first need. */
  tail: Compiled | null;
}

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
  private readonly context: WebGpuContextLike | null;
  private readonly device: DeviceLike | null;
  private readonly threads: boolean;
  private readonly queue = new OpQueue();
  private readonly cache = new Map<string, GpujsExecutable>();
  private dummyHandle: WebGpuBufferResultLike | null = null;
  private readonly runPaths = new Map<string, number>();
  private readonly counter = new MemoryCounter();
  private destroyed = false;
  private deviceError: string | null = null;
  private readonly stopListening: () => void = () => {};

  constructor(private readonly mod: GpuJsModule, choice: ModeChoice, opts: GpujsBackendOptions = {}) {
    this.mode = choice.probe.mode;
    this.name = `gpujs:${this.mode}`;
    this.selection = choice.report;
    this.context = choice.probe.context ?? null;
    this.device = this.context?.device ?? null;
    const threadsAvailable = !!mod.WebAssemblyKernel?.isThreadsSupported;
    this.threads = this.mode === 'webasm' && (opts.threads ?? true) && threadsAvailable;
    const detail = this.mode === 'webasm'
      ? `WebAssembly${mod.WebAssemblyKernel?.isSIMDSupported ? ' SIMD' : ''}, ${this.threads ? 'worker threads' : 'single thread'}`
      : choice.probe.detail;
    const skipped = /; skipped (.*)$/.exec(choice.report)?.[1];
    this.description = `gpu.js '${this.mode}' mode${choice.report.includes('(auto)') ? ' (auto)' : ''}: ${detail}${skipped ? `; skipped ${skipped}` : ''}`;
    this.gpu = new mod.GPU({ mode: this.mode });
    if (this.device) {
      this.stopListening = listenForDeviceErrors(this.device, (message) => {
        this.deviceError ??= message;
      });
    }
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
    if (this.mode === 'webasm' || this.mode === 'cpu') buf.host = new Float32Array(length);
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
      this.writeNow(b, snap, offset);
      if (whole) b.error = null;
    }, (e) => { b.error = e; });
  }

  private writeNow(b: GpujsBuffer, data: Float32Array, offset: number): void {
    if (data.length === 0) return;
    switch (this.mode) {
      case 'webasm':
      case 'cpu':
        b.host!.set(data, offset);
        return;
      case 'webgpu': {
        if (b.handle && !b.writable) {
          // A kernel's output cannot be written to: move the contents into a buffer of our own first
          // (only the part the write leaves unchanged needs copying).
          const old = b.handle as WebGpuBufferResultLike;
          b.handle = null;
          const h = this.webgpuHandle(b);
          if (data.length < b.length) {
            const enc = this.device!.createCommandEncoder();
            enc.copyBufferToBuffer(old.buffer, 0, h.buffer, 0, b.length * 4);
            this.device!.queue.submit([enc.finish()]);
          }
          old.delete();
        }
        const h = this.webgpuHandle(b);
        this.device!.queue.writeBuffer(h.buffer, offset * 4, data);
        return;
      }
      case 'headlessgl': {
        if (b.handle) {
          b.host = this.glToHost(b);
          b.handle.delete();
          b.handle = null;
        }
        b.host ??= new Float32Array(b.length);
        b.host.set(data, offset);
      }
    }
  }

  read(buffer: DeviceBuffer): Promise<Float32Array | Int32Array> {
    const b = this.own(buffer, 'read');
    return new Promise<Float32Array>((resolve, reject) => {
      this.queue.enqueue(() => {
        if (b.error) throw b.error;
        // The copy is ordered here; waiting for it does not hold back later operations.
        Promise.resolve(this.readNow(b)).then(resolve, reject);
      }, reject);
    }).then((data) => {
      this.throwDeviceError();
      return b.dtype === 'i32' ? Int32Array.from(data) : data;
    });
  }

  /** Throws (once) a device error that no operation caught, naming it as such. */
  private throwDeviceError(): void {
    const message = this.deviceError;
    if (message === null) return;
    this.deviceError = null;
    throw new Error(`${this.name}: the WebGPU device reported an error: ${message.split('\n')[0]}`);
  }

  private readNow(b: GpujsBuffer): Float32Array | Promise<Float32Array> {
    switch (this.mode) {
      case 'webasm':
      case 'cpu':
        return b.host!.slice();
      case 'webgpu': {
        const h = b.handle as WebGpuBufferResultLike | null;
        if (!h || b.length === 0) return new Float32Array(b.length);
        const device = this.device!;
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
      case 'headlessgl':
        return b.handle ? this.glToHost(b) : (b.host?.slice() ?? new Float32Array(b.length));
    }
  }

  private glToHost(b: GpujsBuffer): Float32Array {
    const arr = (b.handle as GlTextureLike).toArray();
    const out = new Float32Array(b.length);
    out.set((arr as ArrayLike<number>).length > b.length ? Array.prototype.slice.call(arr, 0, b.length) as number[] : arr);
    return out;
  }

  /** The buffer's pipeline handle in 'webgpu' mode (a zero-filled storage buffer if it has none yet). */
  private webgpuHandle(b: GpujsBuffer): WebGpuBufferResultLike {
    if (b.handle) return b.handle as WebGpuBufferResultLike;
    const buffer = this.device!.createBuffer({ size: Math.max(4, b.length * 4), usage: BUFFER_STORAGE | BUFFER_COPY_SRC | BUFFER_COPY_DST });
    const h = new this.mod.WebGPUBufferResult({ buffer, output: [Math.max(1, b.length)], componentCount: 1, context: this.context!, kernel: null });
    b.handle = h;
    b.writable = true;
    return h;
  }

  // ---- kernels ----

  compile(kernel: Kernel): Executable {
    this.alive();
    const hash = kernelHash(kernel);
    const hit = this.cache.get(hash);
    if (hit) return hit;
    const info = validateKernel(kernel);
    checkCapabilities(kernel, info, this.capabilities, this.name);
    const main = this.build(kernel, false);
    const exe: GpujsExecutable = { kernel, hash, main, tail: null };
    this.cache.set(hash, exe);
    return exe;
  }

  /** Lowers a kernel and builds its gpu.js kernel, so that lowering and translation errors throw here. */
  private build(kernel: Kernel, keepTail: boolean): Compiled {
    const lowered = this.lower(kernel, keepTail);
    const fn = this.createKernel(kernel, lowered, false);
    return { lowered, fn, threaded: null, loops: lowered.loops };
  }

  private lower(kernel: Kernel, keepTail: boolean): LoweredKernel {
    const info = validateKernel(kernel);
    return lowerMapKernel(kernel, info, {
      roundF32: this.mode === 'cpu',
      exactDivision: this.mode === 'webasm' || this.mode === 'cpu',
      ...(keepTail ? { tailUniform: TAIL_UNIFORM } : {}),
    });
  }

  private createKernel(kernel: Kernel, lowered: LoweredKernel, threaded: boolean): GpuJsKernelFn {
    const settings: GpuJsKernelSettings = {
      output: [1],
      loopMaxIterations: LOOP_MAX,
      dynamicOutput: true,
      dynamicArguments: true,
      precision: 'single',
      immutable: true,
    };
    const arrayType = this.mode === 'webgpu' ? 'WebGPUBuffer' : 'Array';
    if (this.mode !== 'headlessgl') settings.argumentTypes = lowered.params.map((p) => (p.kind === 'buffer' ? arrayType : 'Float'));
    if (this.mode === 'webgpu' || this.mode === 'headlessgl') settings.pipeline = true;
    if (this.mode === 'headlessgl') settings.tactic = 'precision';
    if (threaded) settings.asyncMode = true;
    let fn: GpuJsKernelFn;
    const where = `${this.name}: kernel '${kernel.name}'`;
    try {
      fn = this.gpu.createKernel(lowered.source, settings);
      const dummies = lowered.params.map((p) => (p.kind === 'uniform' ? 0 : this.mode === 'webgpu' ? this.dummy() : new Float32Array(1)));
      const built = fn.build(...dummies);
      if (built && typeof (built as Promise<void>).then === 'function') {
        // WGSL compilation finishes asynchronously; its failure rejects the kernel's first run.
        (built as Promise<void>).catch(() => {});
      }
    } catch (e) {
      throw new Error(`${where}: gpu.js rejected the generated kernel: ${(e as Error).message.split('\n')[0]}\n${lowered.source}`);
    }
    this.checkNotDegraded(fn, where);
    return fn;
  }

  /** gpu.js quietly runs a kernel it cannot take in 'webasm' on its 'cpu' backend; refuse that instead. */
  private checkNotDegraded(fn: GpuJsKernelFn, where: string): void {
    const ran = fn.kernel.constructor.mode;
    if (ran !== this.mode) {
      throw new Error(`${where}: gpu.js would run it in '${ran}' instead of '${this.mode}'${fn.kernel.fallbackReason ? ` (${fn.kernel.fallbackReason})` : ''}`);
    }
  }

  private dummy(): WebGpuBufferResultLike {
    if (!this.dummyHandle) {
      const buffer = this.device!.createBuffer({ size: 4, usage: BUFFER_STORAGE | BUFFER_COPY_SRC | BUFFER_COPY_DST });
      this.dummyHandle = new this.mod.WebGPUBufferResult({ buffer, output: [1], componentCount: 1, context: this.context!, kernel: null });
    }
    return this.dummyHandle;
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
    const hostMode = this.mode === 'webasm' || this.mode === 'cpu';
    const tail = !hostMode && n < out.length;
    const compiled = tail ? (exe.tail ??= this.build(kernel, true)) : exe.main;
    let fn = compiled.fn;
    if (this.threads && n >= (compiled.loops ? THREADS_MIN_LOOP : THREADS_MIN_PLAIN)) {
      fn = compiled.threaded ??= this.createKernel(kernel, compiled.lowered, true);
    }
    this.queue.enqueue(() => this.runKernel(compiled.lowered, fn, bufs, uniforms, out, n, tail, where), (e) => { out.error = e; });
  }

  private runKernel(lowered: LoweredKernel, fn: GpuJsKernelFn, bufs: Map<string, GpujsBuffer>, uniforms: Record<string, number>, out: GpujsBuffer, n: number, tail: boolean, where: string): void | Promise<void> {
    const args: unknown[] = [];
    for (const p of lowered.params) {
      if (p.kind === 'uniform') {
        const v = p.name === TAIL_UNIFORM ? n : uniforms[p.name]!;
        args.push(this.mode === 'cpu' && p.type === 'f32' ? Math.fround(v) : v);
        continue;
      }
      const b = bufs.get(p.name)!;
      if (b.error) throw b.error;
      args.push(this.argument(b));
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

  private argument(b: GpujsBuffer): unknown {
    // gpu.js cannot take an empty array (it reads the first element to learn its type); a kernel never
    // reads a buffer of no elements, so any one-element stand-in serves.
    if (b.length === 0) return this.mode === 'webgpu' ? this.dummy() : new Float32Array(1);
    switch (this.mode) {
      case 'webasm':
      case 'cpu':
        return b.host!;
      case 'webgpu':
        return this.webgpuHandle(b);
      case 'headlessgl':
        return b.handle ?? (b.host ??= new Float32Array(b.length));
    }
  }

  private store(out: GpujsBuffer, result: unknown, n: number, where: string, fn: GpuJsKernelFn): void {
    switch (this.mode) {
      case 'webasm':
      case 'cpu': {
        const r = result as Float32Array;
        if (!(r instanceof Float32Array) || r.length < n) throw new Error(`${where}: gpu.js returned ${describe(r)} for ${n} outputs`);
        // 'webasm' returns a fresh array per call: adopt it when it covers the whole buffer.
        if (this.mode === 'webasm' && r.length === out.length) out.host = r;
        else out.host!.set(r.length === n ? r : r.subarray(0, n));
        break;
      }
      case 'webgpu':
      case 'headlessgl': {
        const h = result as DeviceHandle;
        if (!h || typeof h.delete !== 'function') throw new Error(`${where}: gpu.js returned ${describe(h)} instead of a pipeline handle`);
        const old = out.handle;
        out.handle = h;
        out.writable = false;
        out.host = null;
        old?.delete();
        if (this.mode === 'webgpu') releaseKernelOutput(fn);
        break;
      }
    }
    out.error = null;
  }

  async flush(): Promise<void> {
    await this.queue.drain();
    if (this.device) await this.device.queue.onSubmittedWorkDone();
    this.throwDeviceError();
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
    this.stopListening();
    const finish = () => {
      this.dummyHandle?.delete();
      this.dummyHandle = null;
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

function describe(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as Float32Array).length})`;
  return typeof v === 'object' ? (v as object).constructor.name : typeof v;
}
