// The WebGPU backend: IR kernels lowered to WGSL (wgsl.ts), pipelines cached by kernel hash, buffers from a
// size-class pool (pool.ts), many dispatches per command encoder (submitted when a read, a flush, a write
// to a buffer the batch uses, or a full batch asks for it), asynchronous readback, frees deferred until
// the work that uses them is submitted, GPU errors caught with error scopes and rethrown naming kernels.
import type {
  Backend, Bindings, Capabilities, DType, DeviceBuffer, Executable, Grid, Kernel, MemoryStats,
} from '@cce/core';
import { type BufferRange, MemoryCounter, checkBindings, currentOpName, checkCapabilities, isBufferRange, kernelHash, validateKernel } from '@cce/core';
import { type AcquiredDevice, type AdapterReport, type DeviceOptions, acquireDevice } from './device.js';
import { BufferPool } from './pool.js';
import { GpuProfiler } from './profiler.js';
import { generateWgsl } from './wgsl.js';

export interface WebGpuBackendOptions extends DeviceOptions {
  /** Dispatches per command encoder before it is submitted on its own (default 512). */
  maxBatch?: number;
  /** Bytes of freed buffers kept for reuse (default 1 GiB). */
  maxPooledBytes?: number;
}

/** Uniform values of one dispatch live in a window of this many bytes of the batch's uniform buffer. */
const UNIFORM_WINDOW = 512;
const MAX_UNIFORMS = UNIFORM_WINDOW / 4;
/** Freed-but-deferred bytes past which the open batch is submitted so that they return to the pool. */
const DEFERRED_BYTES_SUBMIT = 64 * 2 ** 20;

let nextBufferId = 1;

class GpuBuffer implements DeviceBuffer {
  freed = false;
  /** gpu.size, read once: each read of a GPUBuffer property crosses into Dawn, and the dispatch path
   *  needs the size of every binding. */
  readonly bytes: number;
  /** The bytes a whole-buffer binding covers (the pool may hand out a larger buffer than length needs). */
  readonly bindBytes: number;
  constructor(
    readonly length: number,
    readonly dtype: DType,
    readonly gpu: GPUBuffer,
    readonly id: number,
  ) {
    this.bytes = gpu.size;
    this.bindBytes = Math.min(this.bytes, Math.max(16, Math.ceil((length * 4) / 16) * 16));
  }
}

interface GpuExecutable extends Executable {
  pipeline: GPUComputePipeline;
  layout0: GPUBindGroupLayout;
  source: string;
  /** Resolves with the compile error (or null) once the device has checked the shader and pipeline. */
  checked: Promise<string | null>;
  error: string | null;
}

interface Batch {
  encoder: GPUCommandEncoder;
  pass: GPUComputePassEncoder | null;
  /** State set in the open pass (to skip redundant calls). */
  pipeline: GPUComputePipeline | null;
  group0: GPUBindGroup | null;
  kernels: string[];
  used: Set<GPUBuffer>;
  deferredFrees: GPUBuffer[];
  deferredBytes: number;
  uniformBytes: number;
}

interface BatchErrors {
  kernels: string[];
  messages: string[];
}

const gpuIds = new WeakMap<GPUBuffer, number>();
const gpuId = (b: GPUBuffer) => {
  let id = gpuIds.get(b);
  if (id === undefined) gpuIds.set(b, (id = nextBufferId++));
  return id;
};

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
  private readonly pipelines = new Map<string, GpuExecutable>();
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  /** The bind-group keys each GPU buffer (by id) appears in, to drop them when the pool destroys it. */
  private readonly groupKeys = new Map<number, string[]>();
  private readonly uniformLayout: GPUBindGroupLayout;
  private readonly uniformBuffer: GPUBuffer;
  private readonly uniformBindGroup: GPUBindGroup;
  private readonly uniformStaging: ArrayBuffer;
  private readonly uniformF32: Float32Array;
  private readonly uniformI32: Int32Array;
  private readonly uniformU32: Uint32Array;
  private readonly dynamicOffset = new Uint32Array(1);
  private readonly uniformAlign: number;
  private batch: Batch | null = null;
  /** Executables whose compile check has not been awaited by a read or flush yet. */
  private readonly unchecked = new Set<GpuExecutable>();
  private readonly batchErrors: Promise<BatchErrors | null>[] = [];
  private readonly uncaptured: string[] = [];
  private profilerState: GpuProfiler | null = null;
  private lostInfo: GPUDeviceLostInfo | null = null;
  private destroyed = false;
  private readonly counter = new MemoryCounter();
  /** Command buffers submitted so far (tests read it to see batching). */
  submits = 0;

  constructor(acquired: AcquiredDevice, opts: WebGpuBackendOptions = {}) {
    const { device, adapter, report } = acquired;
    this.device = device;
    this.adapter = adapter;
    this.report = report;
    this.maxBatch = opts.maxBatch ?? 512;
    const L = device.limits;
    const subgroups = device.features.has('subgroups');
    this.capabilities = {
      features: new Set(subgroups ? ['workgroupMemory', 'subgroups'] : ['workgroupMemory']),
      ...(subgroups && report.subgroupMinSize ? { subgroupSize: report.subgroupMinSize } : {}),
      mapOnly: false,
      bindingRanges: true,
      limits: {
        maxStorageBufferBindingSize: L.maxStorageBufferBindingSize,
        maxBufferSize: L.maxBufferSize,
        maxWorkgroupStorageSize: L.maxComputeWorkgroupStorageSize,
        maxInvocationsPerWorkgroup: L.maxComputeInvocationsPerWorkgroup,
        maxWorkgroupsPerDimension: L.maxComputeWorkgroupsPerDimension,
      },
    };
    const sg = subgroups && report.subgroupMinSize
      ? `subgroups ${report.subgroupMinSize === report.subgroupMaxSize ? report.subgroupMinSize : `${report.subgroupMinSize}-${report.subgroupMaxSize}`}`
      : 'no subgroups';
    this.description = `${report.name}; ${sg}; bindings up to ${mib(L.maxStorageBufferBindingSize)}, ` +
      `${L.maxComputeWorkgroupStorageSize / 1024} KiB workgroup memory, ${L.maxComputeInvocationsPerWorkgroup} invocations` +
      `${device.features.has('timestamp-query') ? ', timestamps' : ''}`;

    const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    this.pool = new BufferPool(device, storage, 'tensor', opts.maxPooledBytes ?? 2 ** 30, L.maxBufferSize);
    this.pool.onDestroy = (gpu) => this.dropBindGroups(gpu);
    this.stagingPool = new BufferPool(device, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'readback', 2 ** 28, L.maxBufferSize);

    this.uniformAlign = Math.max(16, L.minUniformBufferOffsetAlignment);
    const uniformBytes = this.maxBatch * Math.max(this.uniformAlign, 16) + UNIFORM_WINDOW;
    this.uniformStaging = new ArrayBuffer(uniformBytes);
    this.uniformF32 = new Float32Array(this.uniformStaging);
    this.uniformI32 = new Int32Array(this.uniformStaging);
    this.uniformU32 = new Uint32Array(this.uniformStaging);
    this.uniformBuffer = device.createBuffer({ size: uniformBytes, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label: 'uniforms' });
    this.uniformLayout = device.createBindGroupLayout({
      label: 'uniforms',
      entries: [{ binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform', hasDynamicOffset: true, minBindingSize: 0 } }],
    });
    this.uniformBindGroup = device.createBindGroup({
      label: 'uniforms', layout: this.uniformLayout, entries: [{ binding: 0, resource: { buffer: this.uniformBuffer, size: UNIFORM_WINDOW } }],
    });
    void device.lost.then((info) => {
      this.lostInfo = info;
    });
    // Errors outside the batches' error scopes (a buffer the device could not create, say) are kept and
    // thrown by the next read or flush.
    device.addEventListener('uncapturederror', (ev) => {
      this.uncaptured.push((ev as GPUUncapturedErrorEvent).error.message.trim());
    });
  }

  // ---------------------------------------------------------------- memory

  allocate(length: number, dtype: DType): DeviceBuffer {
    this.alive('allocate');
    if (!Number.isInteger(length) || length < 0) throw new Error(`webgpu: cannot allocate ${length} elements`);
    const bytes = Math.max(16, length * 4);
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
    // A freed buffer goes back to the pool at once, even when unsubmitted work uses it: commands run in
    // order (each dispatch is its own synchronization scope), so a later dispatch that reuses it writes
    // after the earlier ones read, and `write` submits first when the batch uses its buffer. Reusing at
    // once keeps each step's sequence of buffers the same, so its bind groups come from the cache (with
    // frees held until submit, the batch boundaries drifting across steps gave almost every dispatch a
    // new bind group). Only a buffer the full pool would destroy waits for the submit, since a destroyed
    // buffer invalidates it.
    if (this.batch?.used.has(b.gpu) && !this.pool.keeps(b.bytes)) {
      this.batch.deferredFrees.push(b.gpu);
      this.batch.deferredBytes += b.bytes;
      // Large freed buffers should not wait for the batch to fill before they can be reused.
      if (this.batch.deferredBytes > DEFERRED_BYTES_SUBMIT) this.submit();
    } else {
      this.pool.release(b.gpu, b.bytes);
    }
  }

  write(buffer: DeviceBuffer, data: ArrayLike<number>, offset = 0): void {
    this.alive('write');
    const b = this.own(buffer, 'write');
    if (!Number.isInteger(offset) || offset < 0 || offset + data.length > b.length) {
      throw new Error(`webgpu: write of ${data.length} elements at ${offset} exceeds a buffer of ${b.length}`);
    }
    if (!data.length) return;
    // queue.writeBuffer runs before unsubmitted commands: submit the batch first if it uses this buffer.
    if (this.batch?.used.has(b.gpu)) this.submit();
    const typed = b.dtype === 'f32'
      ? (data instanceof Float32Array ? data : Float32Array.from(data))
      : (data instanceof Int32Array ? data : Int32Array.from(data));
    this.device.queue.writeBuffer(b.gpu, offset * 4, typed.buffer, typed.byteOffset, typed.byteLength);
  }

  async read(buffer: DeviceBuffer): Promise<Float32Array | Int32Array> {
    this.alive('read');
    const b = this.own(buffer, 'read');
    const bytes = b.length * 4;
    if (bytes === 0) {
      this.submit();
      await this.checkErrors();
      return b.dtype === 'f32' ? new Float32Array(0) : new Int32Array(0);
    }
    const staging = this.stagingPool.acquire(bytes);
    const batch = this.openBatch();
    this.endPass(batch);
    batch.encoder.copyBufferToBuffer(b.gpu, 0, staging, 0, Math.ceil(bytes / 4) * 4);
    this.submit();
    try {
      await staging.mapAsync(GPUMapMode.READ, 0, bytes);
    } catch (e) {
      await this.checkErrors();
      throw await this.lostError(`reading a buffer of ${b.length} elements`, e);
    }
    const copy = staging.getMappedRange(0, bytes).slice(0);
    staging.unmap();
    this.stagingPool.release(staging);
    await this.checkErrors();
    return b.dtype === 'f32' ? new Float32Array(copy) : new Int32Array(copy);
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
    const hash = kernelHash(kernel);
    const hit = this.pipelines.get(hash);
    if (hit) {
      if (hit.error) throw new Error(hit.error);
      return hit;
    }
    const info = validateKernel(kernel);
    checkCapabilities(kernel, info, this.capabilities, this.name);
    this.checkDeviceLimits(kernel);
    return this.compileWgsl(kernel, generateWgsl(kernel, info));
  }

  /**
   * Compiles WGSL for `kernel` (whose bindings it must declare as generateWgsl does). compile() uses it;
   * tests call it with broken source to see GPU errors reported. Errors surface at the next dispatch
   * after the device has checked the shader, or at the next read/flush, naming the kernel.
   */
  compileWgsl(kernel: Kernel, source: string): Executable {
    const hash = kernelHash(kernel);
    const label = kernel.name;
    const d = this.device;
    d.pushErrorScope('validation');
    const module = d.createShaderModule({ code: source, label });
    const layout0 = d.createBindGroupLayout({
      label: `${label} buffers`,
      entries: kernel.buffers.map((b, i) => ({
        binding: i, visibility: GPUShaderStage.COMPUTE,
        buffer: { type: b.access === 'read' ? 'read-only-storage' as const : 'storage' as const },
      })),
    });
    const layouts = kernel.uniforms.length ? [layout0, this.uniformLayout] : [layout0];
    const pipeline = d.createComputePipeline({
      label,
      layout: d.createPipelineLayout({ label, bindGroupLayouts: layouts }),
      compute: { module, entryPoint: 'main' },
    });
    const scope = d.popErrorScope();
    const exe: GpuExecutable = { kernel, hash, pipeline, layout0, source, checked: Promise.resolve(null), error: null };
    exe.checked = scope.then(async (err) => {
      if (!err) return null;
      let details = '';
      try {
        const info = await module.getCompilationInfo();
        details = info.messages.filter((m) => m.type === 'error').map((m) => `line ${m.lineNum}:${m.linePos}: ${m.message}`).join('; ');
      } catch {
        // getCompilationInfo is optional; the scope's message suffices.
      }
      exe.error = `webgpu: kernel '${kernel.name}' failed to compile: ${details || err.message.trim()}\n${numbered(source)}`;
      if (this.pipelines.get(hash) === exe) this.pipelines.delete(hash);
      return exe.error;
    }, (e: unknown) => `webgpu: kernel '${kernel.name}': checking its pipeline failed: ${(e as Error)?.message ?? e}`);
    this.pipelines.set(hash, exe);
    this.unchecked.add(exe);
    return exe;
  }

  dispatch(executable: Executable, bindings: Bindings, grid: Grid): void {
    // The hot path: no closures, no per-call strings or typed-array views (per-dispatch overhead matters).
    if (this.destroyed || this.lostInfo) this.alive(`dispatch of kernel '${executable.kernel.name}'`);
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
    if (bufs.length > 1) this.checkAliasing(kernel, bufs);
    if (grid[0] === 0 || grid[1] === 0 || grid[2] === 0) return;

    let batch = this.openBatch();
    const uniformSize = Math.ceil(Math.max(16, nu * 4) / this.uniformAlign) * this.uniformAlign;
    if (batch.kernels.length >= this.maxBatch || batch.uniformBytes + UNIFORM_WINDOW > this.uniformStaging.byteLength) {
      this.submit();
      batch = this.openBatch();
    }
    const offset = batch.uniformBytes;
    if (nu) {
      const word = offset >> 2;
      const values = bindings.uniforms!;
      for (let k = 0; k < nu; k++) {
        const decl = kernel.uniforms[k]!;
        const v = values[decl.name]!;
        if (decl.type === 'f32') this.uniformF32[word + k] = v;
        else if (decl.type === 'i32') this.uniformI32[word + k] = v;
        else this.uniformU32[word + k] = v;
      }
      batch.uniformBytes += uniformSize;
    }

    const slot = batch.kernels.length;
    let pass = batch.pass;
    if (this.profilerState) {
      this.endPass(batch);
      pass = batch.encoder.beginComputePass({ label: kernel.name, timestampWrites: this.profilerState.timestampWrites(slot) });
      batch.pass = pass;
    } else if (!pass) {
      pass = batch.encoder.beginComputePass({ label: 'batch' });
      batch.pass = pass;
    }
    // Redundant state is skipped: consecutive dispatches of one kernel on the same buffers set nothing.
    if (batch.pipeline !== exe.pipeline) {
      pass!.setPipeline(exe.pipeline);
      batch.pipeline = exe.pipeline;
    }
    const group = this.bindGroup(exe, bufs, windows);
    if (batch.group0 !== group) {
      pass!.setBindGroup(0, group);
      batch.group0 = group;
    }
    if (nu) {
      this.dynamicOffset[0] = offset;
      pass!.setBindGroup(1, this.uniformBindGroup, this.dynamicOffset, 0, 1);
    }
    pass!.dispatchWorkgroups(grid[0], grid[1], grid[2]);
    if (this.profilerState) this.endPass(batch);
    // Profiles and batch errors name the fused op beside the kernel (op/kernel).
    const op = currentOpName();
    batch.kernels.push(op ? `${op}/${kernel.name}` : kernel.name);
    for (let i = 0; i < bufs.length; i++) batch.used.add(bufs[i]!.gpu);
    if (batch.kernels.length >= this.maxBatch) this.submit();
  }

  async flush(): Promise<void> {
    this.alive('flush');
    this.submit();
    try {
      await this.device.queue.onSubmittedWorkDone();
    } catch (e) {
      throw await this.lostError('waiting for submitted work', e);
    }
    await this.checkErrors();
    if (this.lostInfo) throw await this.lostError('flush');
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.batch = null;
    this.pipelines.clear();
    this.clearBindGroups();
    this.profilerState?.destroy();
    this.pool.trim();
    this.stagingPool.trim();
    this.uniformBuffer.destroy();
    this.device.destroy();
  }

  // ---------------------------------------------------------------- profiling

  /** Turns the timestamp profiler on (per-kernel GPU time); it needs the 'timestamp-query' feature. */
  startProfiling(): GpuProfiler {
    if (!this.profilerState) {
      this.submit();
      this.profilerState = new GpuProfiler(this.device, this.maxBatch);
    }
    return this.profilerState;
  }

  /** Turns the profiler off after counting all submitted work; returns it (its table() prints it). */
  async stopProfiling(): Promise<GpuProfiler> {
    const p = this.profilerState;
    if (!p) throw new Error('webgpu: the profiler is not running');
    await this.flush();
    await p.settle();
    this.profilerState = null;
    return p;
  }

  get profiler(): GpuProfiler | null {
    return this.profilerState;
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
    const batch = this.openBatch();
    this.endPass(batch);
    batch.encoder.copyBufferToBuffer(s.gpu, 0, t.gpu, 0, bytes);
    batch.used.add(s.gpu);
    batch.used.add(t.gpu);
  }

  // ---------------------------------------------------------------- internals

  private openBatch(): Batch {
    if (!this.batch) {
      // One error scope per batch catches whatever goes wrong while it is recorded and submitted.
      this.device.pushErrorScope('out-of-memory');
      this.device.pushErrorScope('validation');
      this.device.pushErrorScope('internal');
      this.batch = {
        encoder: this.device.createCommandEncoder({ label: 'batch' }),
        pass: null, pipeline: null, group0: null, kernels: [], used: new Set(), deferredFrees: [], deferredBytes: 0, uniformBytes: 0,
      };
    }
    return this.batch;
  }

  private endPass(batch: Batch): void {
    if (batch.pass) {
      batch.pass.end();
      batch.pass = null;
      batch.pipeline = null;
      batch.group0 = null;
    }
  }

  /** Submits the open batch (without waiting for it). */
  private submit(): void {
    const batch = this.batch;
    if (!batch) return;
    this.batch = null;
    this.endPass(batch);
    if (this.profilerState) this.profilerState.resolve(batch.encoder, batch.kernels);
    if (batch.uniformBytes) this.device.queue.writeBuffer(this.uniformBuffer, 0, this.uniformStaging, 0, batch.uniformBytes);
    this.device.queue.submit([batch.encoder.finish()]);
    this.submits++;
    if (this.profilerState) this.profilerState.afterSubmit();
    const scopes = [this.device.popErrorScope(), this.device.popErrorScope(), this.device.popErrorScope()];
    const kernels = batch.kernels;
    this.batchErrors.push(Promise.all(scopes).then(
      (errs) => {
        const messages = errs.filter((e): e is GPUError => e !== null).map((e) => e.message.trim());
        return messages.length ? { kernels, messages } : null;
      },
      (e: unknown) => ({ kernels, messages: [String((e as Error)?.message ?? e)] }),
    ));
    for (const b of batch.deferredFrees) this.pool.release(b);
  }

  /** Throws the first compile or batch error the device has reported since the last check. */
  private async checkErrors(): Promise<void> {
    const compiled = [...this.unchecked];
    this.unchecked.clear();
    const compileErrors = (await Promise.all(compiled.map((e) => e.checked))).filter((e): e is string => e !== null);
    const results = await Promise.all(this.batchErrors.splice(0));
    // A failed pipeline also invalidates the batch that used it; its own message says more.
    if (compileErrors.length) throw new Error(compileErrors[0]);
    if (this.uncaptured.length) {
      const messages = this.uncaptured.splice(0);
      throw new Error(`webgpu: the GPU reported an error outside a batch of kernels: ${messages.join(' | ')}`);
    }
    const bad = results.find((r) => r);
    if (bad) {
      const names = [...new Set(bad.kernels)];
      throw new Error(`webgpu: the GPU reported an error in a batch of ${bad.kernels.length} dispatches ` +
        `(kernels: ${names.slice(0, 12).join(', ')}${names.length > 12 ? ', ...' : ''}): ${bad.messages.join(' | ')}`);
    }
  }

  /** Forgets the bind groups that hold a buffer the pool destroys (the others stay cached). */
  private dropBindGroups(gpu: GPUBuffer): void {
    const id = gpuId(gpu);
    for (const key of this.groupKeys.get(id) ?? []) this.bindGroups.delete(key);
    this.groupKeys.delete(id);
  }

  private clearBindGroups(): void {
    this.bindGroups.clear();
    this.groupKeys.clear();
  }

  /** A bind group for the buffers, each whole or (a BufferRange) a window of it. */
  private bindGroup(exe: GpuExecutable, bufs: GpuBuffer[], windows: (BufferRange | null)[]): GPUBindGroup {
    let key = exe.hash;
    for (let i = 0; i < bufs.length; i++) {
      const w = windows[i];
      key += w ? `|${bufs[i]!.id}@${w.offset}+${w.length}` : `|${bufs[i]!.id}:${bufs[i]!.bindBytes}`;
    }
    let group = this.bindGroups.get(key);
    if (!group) {
      if (this.bindGroups.size > 8192) this.clearBindGroups();
      group = this.device.createBindGroup({
        label: `${exe.kernel.name} buffers`,
        layout: exe.layout0,
        entries: bufs.map((b, i) => {
          const w = windows[i];
          return { binding: i, resource: w ? { buffer: b.gpu, offset: w.offset * 4, size: Math.max(4, w.length * 4) } : { buffer: b.gpu, offset: 0, size: b.bindBytes } };
        }),
      });
      this.bindGroups.set(key, group);
      for (const b of bufs) {
        const keys = this.groupKeys.get(b.id);
        if (keys) keys.push(key);
        else this.groupKeys.set(b.id, [key]);
      }
    }
    return group;
  }

  private checkDeviceLimits(kernel: Kernel): void {
    const L = this.device.limits;
    const [x, y, z] = kernel.workgroupSize;
    const dims: [number, number, string][] = [[x, L.maxComputeWorkgroupSizeX, 'x'], [y, L.maxComputeWorkgroupSizeY, 'y'], [z, L.maxComputeWorkgroupSizeZ, 'z']];
    for (const [n, max, axis] of dims) {
      if (n > max) throw new Error(`webgpu: kernel '${kernel.name}' has workgroup size ${n} along ${axis}; the limit is ${max}`);
    }
    if (kernel.buffers.length > L.maxStorageBuffersPerShaderStage) {
      throw new Error(`webgpu: kernel '${kernel.name}' binds ${kernel.buffers.length} storage buffers; the limit is ${L.maxStorageBuffersPerShaderStage}`);
    }
  }

  private checkAliasing(kernel: Kernel, bufs: GpuBuffer[]): void {
    for (let i = 0; i < bufs.length; i++) {
      for (let j = i + 1; j < bufs.length; j++) {
        if (bufs[i]!.gpu !== bufs[j]!.gpu) continue;
        const a = kernel.buffers[i]!;
        const b = kernel.buffers[j]!;
        if (a.access === 'read_write' || b.access === 'read_write') {
          throw new Error(`webgpu: kernel '${kernel.name}' binds one buffer to '${a.name}' (${a.access}) and '${b.name}' (${b.access}); ` +
            `WebGPU forbids a writable binding that aliases another`);
        }
      }
    }
  }

  private own(buffer: DeviceBuffer | undefined, what: string): GpuBuffer {
    if (!(buffer instanceof GpuBuffer)) throw new Error(`webgpu: ${what}: not a buffer of this backend`);
    if (buffer.freed) throw new Error(`webgpu: ${what}: buffer was freed`);
    return buffer;
  }

  private alive(what: string): void {
    if (this.destroyed) throw new Error(`webgpu: ${what}: the backend was destroyed`);
    if (this.lostInfo) throw new Error(`webgpu: ${what}: ${lostText(this.lostInfo)}`);
  }

  private async lostError(what: string, cause?: unknown): Promise<Error> {
    if (!this.lostInfo) {
      // The lost promise settles on the device's own timeline; give it a moment.
      await Promise.race([this.device.lost, new Promise((r) => setTimeout(r, 200))]);
    }
    if (this.lostInfo) return new Error(`webgpu: ${what}: ${lostText(this.lostInfo)}`);
    return new Error(`webgpu: ${what} failed: ${(cause as Error)?.message || String(cause ?? 'unknown error')}`);
  }
}

function lostText(info: GPUDeviceLostInfo): string {
  return `the GPU device was lost (${info.reason}${info.message ? `: ${info.message.trim()}` : ''}); ` +
    `create a new backend (useBackend('webgpu')) to continue`;
}

function numbered(source: string): string {
  return source.split('\n').map((l, i) => `${String(i + 1).padStart(4)} | ${l}`).join('\n');
}

function mib(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(bytes % 2 ** 30 ? 1 : 0)} GiB` : `${Math.round(bytes / 2 ** 20)} MiB`;
}

export async function createWebGpuBackend(opts: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
  return new WebGpuBackend(await acquireDevice(opts), opts);
}


