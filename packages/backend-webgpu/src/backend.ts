// The WebGPU backend: IR kernels lowered to WGSL (wgsl.ts) and compiled to pipelines cached by kernel hash
// (pipelines.ts), buffers from a size-class pool (pool.ts), many dispatches per command encoder
// (batch.ts: submitted when a read, a flush, a write to a buffer the batch uses, or a full batch asks for
// it; frees deferred until the work that uses them is submitted), uniforms in a ring (uniforms.ts), bind
// groups cached (bind-groups.ts), asynchronous readback, GPU errors caught with error scopes and rethrown
// naming kernels (errors.ts). This file wires them into the Backend contract.
import type {
  Backend, Bindings, Capabilities, DType, DeviceBuffer, Executable, Grid, Kernel, MemoryStats,
} from '@cce/core';
import { type BufferRange, MemoryCounter, checkBindings, checkCapabilities, isBufferRange, kernelHash, validateKernel } from '@cce/core';
import { CommandBatcher } from './batch.js';
import { BindGroupCache } from './bind-groups.js';
import { GpuBuffer, deviceBytes, downloadValues, gpuId, uploadBytes } from './buffer.js';
import { checkAliasing, checkDeviceLimits, describeDevice, deviceCapabilities } from './capabilities.js';
import { type AcquiredDevice, type AdapterReport, type DeviceOptions, acquireDevice } from './device.js';
import { DeviceErrors } from './errors.js';
import { type GpuExecutable, PipelineCache } from './pipelines.js';
import { BufferPool } from './pool.js';
import { GpuProfiler } from './profiler.js';
import { MAX_UNIFORMS, UniformRing } from './uniforms.js';
import { generateWgsl } from './wgsl.js';

export interface WebGpuBackendOptions extends DeviceOptions {
  /** Dispatches per command encoder before it is submitted on its own (default 512). */
  maxBatch?: number;
  /** Bytes of freed buffers kept for reuse (default 1 GiB). */
  maxPooledBytes?: number;
}

export class WebGpuBackend implements Backend {
  readonly name = 'webgpu';
  readonly description: string;
  readonly capabilities: Capabilities;
  readonly device: GPUDevice;
  readonly adapter: GPUAdapter;
  readonly report: AdapterReport;
  readonly maxBatch: number;

  private readonly pool: BufferPool;
  private readonly stagingPool: BufferPool;
  private readonly pipelines: PipelineCache;
  private readonly bindGroups: BindGroupCache;
  private readonly uniforms: UniformRing;
  private readonly batches: CommandBatcher;
  private readonly errors: DeviceErrors;
  private destroyed = false;
  private readonly counter = new MemoryCounter();

  constructor(acquired: AcquiredDevice, opts: WebGpuBackendOptions = {}) {
    const { device, adapter, report } = acquired;
    this.device = device;
    this.adapter = adapter;
    this.report = report;
    this.maxBatch = opts.maxBatch ?? 512;
    this.capabilities = deviceCapabilities(device, report);
    this.description = describeDevice(device, report);

    const L = device.limits;
    const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    this.pool = new BufferPool(device, storage, 'tensor', opts.maxPooledBytes ?? 2 ** 30, L.maxBufferSize);
    this.bindGroups = new BindGroupCache(device);
    this.pool.onDestroy = (gpu) => this.bindGroups.drop(gpu);
    this.stagingPool = new BufferPool(device, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'readback', 2 ** 28, L.maxBufferSize);
    this.uniforms = new UniformRing(device, this.maxBatch);
    this.pipelines = new PipelineCache(device, this.uniforms.layout);
    this.batches = new CommandBatcher(device, this.pool, this.uniforms, this.bindGroups, this.maxBatch);
    this.errors = new DeviceErrors(device, this.pipelines, this.batches);
  }

  /** Command buffers submitted so far (tests read it to see batching). */
  get submits(): number {
    return this.batches.submits;
  }

  // ---------------------------------------------------------------- memory

  allocate(length: number, dtype: DType): DeviceBuffer {
    this.alive('allocate');
    if (!Number.isInteger(length) || length < 0) throw new Error(`webgpu: cannot allocate ${length} elements`);
    const bytes = Math.max(16, deviceBytes(length, dtype));
    const max = this.capabilities.limits.maxBufferSize;
    if (bytes > max) {
      throw new Error(`webgpu: cannot allocate ${length} ${dtype} elements (${bytes} bytes): the largest buffer on this device is ${max} bytes`);
    }
    const gpu = this.pool.acquire(bytes);
    const buf = new GpuBuffer(length, dtype, gpu, gpuId(gpu));
    this.counter.allocated(buf.bytes);
    return buf;
  }

  free(buffer: DeviceBuffer): void {
    const b = this.own(buffer, 'free');
    b.freed = true;
    this.counter.freed(b.bytes);
    if (this.destroyed) return;
    this.batches.release(b.gpu, b.bytes);
  }

  write(buffer: DeviceBuffer, data: ArrayLike<number>, offset = 0): void {
    this.alive('write');
    const b = this.own(buffer, 'write');
    if (!Number.isInteger(offset) || offset < 0 || offset + data.length > b.length) {
      throw new Error(`webgpu: write of ${data.length} elements at ${offset} exceeds a buffer of ${b.length}`);
    }
    if (!data.length) return;
    // queue.writeBuffer runs before unsubmitted commands: submit the batch first if it uses this buffer.
    if (this.batches.uses(b.gpu)) this.batches.submit();
    const { view, byteOffset } = uploadBytes(b.dtype, data, offset);
    this.device.queue.writeBuffer(b.gpu, byteOffset, view.buffer, view.byteOffset, view.byteLength);
  }

  async read(buffer: DeviceBuffer): Promise<Float32Array | Int32Array> {
    this.alive('read');
    const b = this.own(buffer, 'read');
    const bytes = deviceBytes(b.length, b.dtype);
    if (bytes === 0) {
      this.batches.submit();
      await this.errors.check();
      return b.dtype === 'i32' ? new Int32Array(0) : new Float32Array(0);
    }
    const staging = this.stagingPool.acquire(bytes);
    this.batches.copy(b.gpu, staging, bytes);
    this.batches.submit();
    try {
      await staging.mapAsync(GPUMapMode.READ, 0, bytes);
    } catch (e) {
      await this.errors.check();
      throw await this.errors.lostError(`reading a buffer of ${b.length} elements`, e);
    }
    const copy = staging.getMappedRange(0, bytes).slice(0);
    staging.unmap();
    this.stagingPool.release(staging);
    await this.errors.check();
    return downloadValues(b.dtype, copy, b.length);
  }

  memory(): MemoryStats {
    return this.counter.stats(this.pool.pooledBytes);
  }

  resetPeak(): void {
    this.counter.resetPeak();
  }

  // ---------------------------------------------------------------- kernels

  compile(kernel: Kernel): Executable {
    this.alive('compile');
    const hit = this.pipelines.get(kernelHash(kernel));
    if (hit) {
      if (hit.error) throw new Error(hit.error);
      return hit;
    }
    const info = validateKernel(kernel);
    checkCapabilities(kernel, info, this.capabilities, this.name);
    checkDeviceLimits(this.device, kernel);
    return this.compileWgsl(kernel, generateWgsl(kernel, info));
  }

  /**
   * Compiles WGSL for `kernel` (whose bindings it must declare as generateWgsl does). compile() uses it;
   * tests call it with broken source to see GPU errors reported. Errors surface at the next dispatch
   * after the device has checked the shader, or at the next read/flush, naming the kernel.
   */
  compileWgsl(kernel: Kernel, source: string): Executable {
    return this.pipelines.compile(kernel, source);
  }

  dispatch(executable: Executable, bindings: Bindings, grid: Grid): void {
    // The hot path: no closures, no per-call strings or typed-array views (per-dispatch overhead matters).
    if (this.destroyed || this.errors.lostInfo) this.alive(`dispatch of kernel '${executable.kernel.name}'`);
    const exe = executable as GpuExecutable;
    if (exe.error) throw new Error(exe.error);
    const kernel = exe.kernel;
    checkBindings(kernel, bindings, grid, this.capabilities, this.name);
    const nu = kernel.uniforms.length;
    if (nu > MAX_UNIFORMS) {
      throw new Error(`webgpu: kernel '${kernel.name}' has ${nu} uniforms; at most ${MAX_UNIFORMS} fit a dispatch`);
    }
    const decls = kernel.buffers;
    const bufs: GpuBuffer[] = new Array(decls.length);
    const windows: (BufferRange | null)[] = new Array(decls.length);
    for (let i = 0; i < decls.length; i++) {
      let b = bindings.buffers[decls[i]!.name];
      windows[i] = null;
      if (b && isBufferRange(b)) {
        windows[i] = b;
        b = b.base;
      }
      if (!(b instanceof GpuBuffer) || b.freed) this.own(b, `kernel '${kernel.name}' binding '${decls[i]!.name}'`);
      bufs[i] = b as GpuBuffer;
    }
    if (bufs.length > 1) checkAliasing(kernel, bufs);
    if (grid[0] === 0 || grid[1] === 0 || grid[2] === 0) return;
    this.batches.dispatch(exe, bufs, windows, bindings.uniforms, grid);
  }

  async flush(): Promise<void> {
    this.alive('flush');
    this.batches.submit();
    try {
      await this.device.queue.onSubmittedWorkDone();
    } catch (e) {
      throw await this.errors.lostError('waiting for submitted work', e);
    }
    await this.errors.check();
    if (this.errors.lostInfo) throw await this.errors.lostError('flush');
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.batches.discard();
    this.pipelines.clear();
    this.bindGroups.clear();
    this.batches.profiler?.destroy();
    this.pool.trim();
    this.stagingPool.trim();
    this.uniforms.destroy();
    this.device.destroy();
  }

  // ---------------------------------------------------------------- profiling

  /** Turns the timestamp profiler on (per-kernel GPU time); it needs the 'timestamp-query' feature. */
  startProfiling(): GpuProfiler {
    if (!this.batches.profiler) {
      this.batches.submit();
      this.batches.profiler = new GpuProfiler(this.device, this.maxBatch);
    }
    return this.batches.profiler;
  }

  /** Turns the profiler off after counting all submitted work; returns it (its table() prints it). */
  async stopProfiling(): Promise<GpuProfiler> {
    const p = this.batches.profiler;
    if (!p) throw new Error('webgpu: the profiler is not running');
    await this.flush();
    await p.settle();
    this.batches.profiler = null;
    return p;
  }

  get profiler(): GpuProfiler | null {
    return this.batches.profiler;
  }

  /** Pipelines compiled so far. */
  get pipelineCount(): number {
    return this.pipelines.size;
  }

  /** The WGSL a kernel compiled to (for reports and debugging). */
  wgslOf(kernel: Kernel): string {
    return (this.compile(kernel) as GpuExecutable).source;
  }

  /** Records a device-to-device copy of `bytes` bytes in the batch (the benchmark's bandwidth test). */
  copy(src: DeviceBuffer, dst: DeviceBuffer, bytes = Math.min(src.length, dst.length) * 4): void {
    this.alive('copy');
    const s = this.own(src, 'copy source');
    const t = this.own(dst, 'copy destination');
    this.batches.copy(s.gpu, t.gpu, bytes);
  }

  // ---------------------------------------------------------------- internals

  private own(buffer: DeviceBuffer | undefined, what: string): GpuBuffer {
    if (!(buffer instanceof GpuBuffer)) throw new Error(`webgpu: ${what}: not a buffer of this backend`);
    if (buffer.freed) throw new Error(`webgpu: ${what}: buffer was freed`);
    return buffer;
  }

  private alive(what: string): void {
    if (this.destroyed) throw new Error(`webgpu: ${what}: the backend was destroyed`);
    this.errors.throwIfLost(what);
  }
}

export async function createWebGpuBackend(opts: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
  return new WebGpuBackend(await acquireDevice(opts), opts);
}
