// A pool of GPU buffers by size class, so that a training loop that frees and allocates the same shapes
// every step creates no new GPU buffers after its first step. Size classes are 2^k * {1, 1.25, 1.5, 1.75}
// (at most 25% slack), at least 256 bytes, always multiples of 16. Above 256 MiB the size is exact (16-
// aligned): there 25% slack would be hundreds of megabytes, and such buffers are few.

export const EXACT_ABOVE = 2 ** 28;

export function sizeClass(bytes: number, cap = Infinity): number {
  if (bytes > EXACT_ABOVE) return Math.ceil(bytes / 16) * 16;
  const n = Math.max(bytes, 256);
  const p = 2 ** Math.floor(Math.log2(n));
  let size = p;
  for (const f of [1, 1.25, 1.5, 1.75, 2]) {
    size = p * f;
    if (size >= n) break;
  }
  size = Math.ceil(size / 16) * 16;
  // Never round past the device's largest buffer; fall back to the exact (16-aligned) size there.
  if (size > cap) size = Math.ceil(n / 16) * 16;
  return size;
}

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private pooled = 0;
  /** Called with each GPU buffer the pool destroys (so that caches holding it can drop it). */
  onDestroy: (buffer: GPUBuffer) => void = () => {};

  constructor(
    private readonly device: GPUDevice,
    private readonly usage: GPUBufferUsageFlags,
    private readonly label: string,
    /** Bytes kept for reuse at most; buffers released past this are destroyed. */
    private readonly maxPooledBytes: number,
    private readonly maxBufferSize: number,
  ) {}

  get pooledBytes(): number {
    return this.pooled;
  }

  /** A buffer of at least `bytes` (its size is the size class). */
  acquire(bytes: number): GPUBuffer {
    const size = sizeClass(bytes, this.maxBufferSize);
    const list = this.free.get(size);
    const hit = list?.pop();
    if (hit) {
      this.pooled -= size;
      return hit;
    }
    return this.device.createBuffer({ size, usage: this.usage, label: `${this.label} ${size} B` });
  }

  /** Returns a buffer for reuse; the caller guarantees that no unsubmitted work uses it. */
  release(buffer: GPUBuffer): void {
    const size = buffer.size;
    if (this.pooled + size > this.maxPooledBytes) {
      this.destroy(buffer);
      return;
    }
    const list = this.free.get(size) ?? [];
    list.push(buffer);
    this.free.set(size, list);
    this.pooled += size;
  }

  /** Destroys every pooled buffer. */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) this.destroy(b);
    this.free.clear();
    this.pooled = 0;
  }

  private destroy(buffer: GPUBuffer): void {
    this.onDestroy(buffer);
    buffer.destroy();
  }
}
