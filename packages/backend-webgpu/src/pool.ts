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
  /** Per size class, the free buffers by creation order, newest first, so acquire takes the oldest. */
  private readonly free = new Map<number, GPUBuffer[]>();
  /** Creation order of the pool's buffers. Taking the oldest free buffer, rather than the last freed,
   *  makes the buffers a step gets depend only on which are free, not on the order they were freed in:
   *  a training loop then sees the same buffers every step, and the backend's bind groups repeat. */
  private readonly order = new WeakMap<GPUBuffer, number>();
  private created = 0;
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
    const buffer = this.device.createBuffer({ size, usage: this.usage, label: `${this.label} ${size} B` });
    this.order.set(buffer, this.created++);
    return buffer;
  }

  /** Whether a released buffer of `size` bytes would be kept (not destroyed). */
  keeps(size: number): boolean {
    return this.pooled + size <= this.maxPooledBytes;
  }

  /** Returns a buffer for reuse (`size` is its byte size, given when known: reading it crosses into Dawn).
   *  It is destroyed when the pool is full, so the caller guarantees that no unsubmitted work uses it then. */
  release(buffer: GPUBuffer, size = buffer.size): void {
    if (!this.keeps(size)) {
      this.destroy(buffer);
      return;
    }
    const list = this.free.get(size) ?? [];
    // Insert keeping the list newest first (binary search; buffers from elsewhere count as newest).
    const key = this.order.get(buffer) ?? Infinity;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.order.get(list[mid]!) ?? Infinity) > key) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, buffer);
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
