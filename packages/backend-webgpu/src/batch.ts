// Command batching: many dispatches and copies are recorded into one command encoder (one compute pass
// while no profiler runs), which is submitted when a read, a flush, a write to a buffer the batch uses,
// a full batch or enough deferred frees ask for it. Each batch runs inside its own error scopes; their
// results are kept per batch and reported, naming its kernels, by the next read or flush (takeError).
import type { BufferRange, Grid } from '@cce/core';
import { currentOpName } from '@cce/core';
import type { BindGroupCache } from './bind-groups.js';
import type { GpuBuffer } from './buffer.js';
import type { GpuExecutable } from './pipelines.js';
import type { BufferPool } from './pool.js';
import type { GpuProfiler } from './profiler.js';
import type { UniformRing } from './uniforms.js';

/** Freed-but-deferred bytes past which the open batch is submitted so that they return to the pool. */
const DEFERRED_BYTES_SUBMIT = 64 * 2 ** 20;

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
}

interface BatchErrors {
  kernels: string[];
  messages: string[];
}

export class CommandBatcher {
  private batch: Batch | null = null;
  private readonly batchErrors: Promise<BatchErrors | null>[] = [];
  /** While set, every dispatch gets its own pass with timestamps, and each batch resolves its queries. */
  profiler: GpuProfiler | null = null;
  /** Command buffers submitted so far. */
  submits = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly pool: BufferPool,
    private readonly uniforms: UniformRing,
    private readonly bindGroups: BindGroupCache,
    private readonly maxBatch: number,
  ) {}

  /** Whether unsubmitted work uses the buffer. */
  uses(gpu: GPUBuffer): boolean {
    return !!this.batch?.used.has(gpu);
  }

  /** Returns a freed buffer to the pool. */
  release(gpu: GPUBuffer, bytes: number): void {
    // A freed buffer goes back to the pool at once, even when unsubmitted work uses it: commands run in
    // order (each dispatch is its own synchronization scope), so a later dispatch that reuses it writes
    // after the earlier ones read, and `write` submits first when the batch uses its buffer. Reusing at
    // once keeps each step's sequence of buffers the same, so its bind groups come from the cache (with
    // frees held until submit, the batch boundaries drifting across steps gave almost every dispatch a
    // new bind group). Only a buffer the full pool would destroy waits for the submit, since a destroyed
    // buffer invalidates it.
    if (this.batch?.used.has(gpu) && !this.pool.keeps(bytes)) {
      this.batch.deferredFrees.push(gpu);
      this.batch.deferredBytes += bytes;
      // Large freed buffers should not wait for the batch to fill before they can be reused.
      if (this.batch.deferredBytes > DEFERRED_BYTES_SUBMIT) this.submit();
    } else {
      this.pool.release(gpu, bytes);
    }
  }

  /** Records a copy of `bytes` bytes from `src` to `dst`. */
  copy(src: GPUBuffer, dst: GPUBuffer, bytes: number): void {
    const batch = this.open();
    this.endPass(batch);
    batch.encoder.copyBufferToBuffer(src, 0, dst, 0, bytes);
    batch.used.add(src);
    batch.used.add(dst);
  }

  /**
   * Records a dispatch of `exe` on `bufs` (each whole or, where `windows` has one, a range of it) with
   * its uniform values (the rest of the backend's dispatch hot path).
   */
  dispatch(exe: GpuExecutable, bufs: GpuBuffer[], windows: (BufferRange | null)[], values: Record<string, number> | undefined, grid: Grid): void {
    const kernel = exe.kernel;
    let batch = this.open();
    if (batch.kernels.length >= this.maxBatch || this.uniforms.full) {
      this.submit();
      batch = this.open();
    }
    const nu = kernel.uniforms.length;
    const offset = nu ? this.uniforms.push(kernel.uniforms, values!) : 0;

    const slot = batch.kernels.length;
    let pass = batch.pass;
    if (this.profiler) {
      this.endPass(batch);
      pass = batch.encoder.beginComputePass({ label: kernel.name, timestampWrites: this.profiler.timestampWrites(slot) });
      batch.pass = pass;
    } else if (!pass) {
      pass = batch.encoder.beginComputePass({ label: 'batch' });
      batch.pass = pass;
    }
    // Redundant state is skipped: consecutive dispatches of one kernel on the same buffers set nothing.
    if (batch.pipeline !== exe.pipeline) {
      pass.setPipeline(exe.pipeline);
      batch.pipeline = exe.pipeline;
    }
    const group = this.bindGroups.get(exe, bufs, windows);
    if (batch.group0 !== group) {
      pass.setBindGroup(0, group);
      batch.group0 = group;
    }
    if (nu) this.uniforms.bind(pass, offset);
    pass.dispatchWorkgroups(grid[0], grid[1], grid[2]);
    if (this.profiler) this.endPass(batch);
    // Profiles and batch errors name the fused op beside the kernel (op/kernel).
    const op = currentOpName();
    batch.kernels.push(op ? `${op}/${kernel.name}` : kernel.name);
    for (let i = 0; i < bufs.length; i++) batch.used.add(bufs[i]!.gpu);
    if (batch.kernels.length >= this.maxBatch) this.submit();
  }

  /** Submits the open batch (without waiting for it). */
  submit(): void {
    const batch = this.batch;
    if (!batch) return;
    this.batch = null;
    this.endPass(batch);
    if (this.profiler) this.profiler.resolve(batch.encoder, batch.kernels);
    this.uniforms.upload(this.device.queue);
    this.device.queue.submit([batch.encoder.finish()]);
    this.submits++;
    if (this.profiler) this.profiler.afterSubmit();
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

  /** Drops the open batch unsubmitted (the backend is being destroyed). */
  discard(): void {
    this.batch = null;
  }

  /** Waits for the error scopes of the batches submitted since the last call; the first error, or null. */
  async takeError(): Promise<string | null> {
    const results = await Promise.all(this.batchErrors.splice(0));
    const bad = results.find((r) => r);
    if (!bad) return null;
    const names = [...new Set(bad.kernels)];
    return `webgpu: the GPU reported an error in a batch of ${bad.kernels.length} dispatches ` +
      `(kernels: ${names.slice(0, 12).join(', ')}${names.length > 12 ? ', ...' : ''}): ${bad.messages.join(' | ')}`;
  }

  private open(): Batch {
    if (!this.batch) {
      // One error scope per batch catches whatever goes wrong while it is recorded and submitted.
      this.device.pushErrorScope('out-of-memory');
      this.device.pushErrorScope('validation');
      this.device.pushErrorScope('internal');
      this.batch = {
        encoder: this.device.createCommandEncoder({ label: 'batch' }),
        pass: null, pipeline: null, group0: null, kernels: [], used: new Set(), deferredFrees: [], deferredBytes: 0,
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
}
