// An optional GPU profiler from timestamp queries: while it is on, the backend gives every dispatch its
// own compute pass with beginning/end timestamps, and each batch resolves its queries into a buffer that
// is read back asynchronously. Per-kernel GPU time accumulates by kernel name; `table()` prints it.

export interface KernelTiming {
  kernel: string;
  dispatches: number;
  totalMs: number;
  meanUs: number;
  /** Fraction of all profiled GPU time. */
  share: number;
}

interface PendingBatch {
  kernels: string[];
  readback: GPUBuffer;
}

export class GpuProfiler {
  private readonly querySet: GPUQuerySet;
  private readonly resolveBuffer: GPUBuffer;
  private readonly spare: GPUBuffer[] = [];
  private readonly stats = new Map<string, { count: number; ns: number }>();
  private readonly inFlight = new Set<Promise<void>>();
  private toMap: PendingBatch | null = null;
  private failure: Error | null = null;

  /** `capacity`: dispatches per batch (two queries each). */
  constructor(private readonly device: GPUDevice, readonly capacity: number) {
    if (!device.features.has('timestamp-query')) {
      throw new Error(`webgpu: profiling needs the 'timestamp-query' feature, which this device lacks (features: ${[...device.features].join(', ') || 'none'})`);
    }
    this.querySet = device.createQuerySet({ type: 'timestamp', count: 2 * capacity, label: 'profiler timestamps' });
    this.resolveBuffer = device.createBuffer({
      size: 16 * capacity, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, label: 'profiler resolve',
    });
  }

  /** Timestamp writes for the pass of the `slot`-th dispatch of the current batch. */
  timestampWrites(slot: number): GPUComputePassTimestampWrites {
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * slot, endOfPassWriteIndex: 2 * slot + 1 };
  }

  /** Encodes the resolve of a batch's `kernels.length` dispatches (call before finishing the encoder). */
  resolve(encoder: GPUCommandEncoder, kernels: string[]): void {
    if (!kernels.length) return;
    const bytes = 16 * kernels.length;
    const readback = this.spare.pop() ?? this.device.createBuffer({
      size: 16 * this.capacity, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'profiler readback',
    });
    encoder.resolveQuerySet(this.querySet, 0, 2 * kernels.length, this.resolveBuffer, 0);
    encoder.copyBufferToBuffer(this.resolveBuffer, 0, readback, 0, bytes);
    this.toMap = { kernels: [...kernels], readback };
  }

  /** Starts reading back the batch resolved last (call after the queue submit). */
  afterSubmit(): void {
    const batch = this.toMap;
    if (!batch) return;
    this.toMap = null;
    const p = batch.readback.mapAsync(GPUMapMode.READ, 0, 16 * batch.kernels.length).then(() => {
      const ts = new BigUint64Array(batch.readback.getMappedRange(0, 16 * batch.kernels.length));
      batch.kernels.forEach((k, i) => {
        const begin = ts[2 * i]!;
        const end = ts[2 * i + 1]!;
        const ns = end > begin ? Number(end - begin) : 0;
        const s = this.stats.get(k) ?? { count: 0, ns: 0 };
        s.count++;
        s.ns += ns;
        this.stats.set(k, s);
      });
      batch.readback.unmap();
      this.spare.push(batch.readback);
    }, (e: unknown) => {
      this.failure = new Error(`webgpu profiler: reading timestamps failed: ${(e as Error)?.message ?? e}`);
    });
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  /** Waits until every submitted batch's timestamps are counted. */
  async settle(): Promise<void> {
    await Promise.all([...this.inFlight]);
    if (this.failure) throw this.failure;
  }

  reset(): void {
    this.stats.clear();
  }

  /** Per-kernel GPU time, the most expensive first. */
  rows(): KernelTiming[] {
    let total = 0;
    for (const s of this.stats.values()) total += s.ns;
    return [...this.stats.entries()]
      .map(([kernel, s]) => ({
        kernel, dispatches: s.count, totalMs: s.ns / 1e6, meanUs: s.ns / 1e3 / s.count, share: total ? s.ns / total : 0,
      }))
      .sort((a, b) => b.totalMs - a.totalMs);
  }

  table(): string {
    return formatProfile(this.rows());
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolveBuffer.destroy();
    for (const b of this.spare) b.destroy();
  }
}

/** A fixed-width table: kernel, dispatches, total ms, mean µs, share. */
export function formatProfile(rows: KernelTiming[]): string {
  const head = ['kernel', 'dispatches', 'total ms', 'mean us', 'share'];
  const body = rows.map((r) => [r.kernel, String(r.dispatches), r.totalMs.toFixed(3), r.meanUs.toFixed(1), `${(100 * r.share).toFixed(1)}%`]);
  const total = rows.reduce((s, r) => s + r.totalMs, 0);
  const count = rows.reduce((s, r) => s + r.dispatches, 0);
  body.push(['total', String(count), total.toFixed(3), '', rows.length ? '100.0%' : '']);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}
