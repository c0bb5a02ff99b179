// The bind-group cache: a dispatch's storage-buffer bind group, keyed by pipeline and by each buffer's id
// and bound range, so that a training step that sees the same buffers every step (the pool sees to that)
// creates no new bind groups after its first. Groups that hold a buffer the pool destroys are dropped.
// The key is numbers, not a string: per executable, a hash of the bindings picks a bucket, and an entry
// matches when its numbers equal the dispatch's (a lookup builds nothing on the dispatch path).
import { type BufferRange, elementBytes } from '@cce/core';
import { type GpuBuffer, deviceBytes, gpuId } from './buffer.js';
import type { GpuExecutable } from './pipelines.js';

/** Numbers per binding in a key: buffer id, window offset (-1: the whole buffer), bound length or bytes. */
const PER_BINDING = 3;

interface Entry {
  key: number[];
  group: GPUBindGroup;
  /** The bucket that holds it, to drop it from there. */
  bucket: Entry[];
}

const offsetOf = (w: BufferRange | null | undefined) => (w ? w.offset : -1);
const extentOf = (b: GpuBuffer, w: BufferRange | null | undefined) => (w ? w.length : b.bindBytes);

function hashOf(bufs: GpuBuffer[], windows: (BufferRange | null)[]): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bufs.length; i++) {
    const w = windows[i];
    h = Math.imul(h ^ bufs[i]!.id, 0x01000193);
    h = Math.imul(h ^ offsetOf(w), 0x01000193);
    h = Math.imul(h ^ extentOf(bufs[i]!, w), 0x01000193);
  }
  return h;
}

function matches(key: number[], bufs: GpuBuffer[], windows: (BufferRange | null)[]): boolean {
  for (let i = 0; i < bufs.length; i++) {
    const w = windows[i];
    const k = i * PER_BINDING;
    if (key[k] !== bufs[i]!.id || key[k + 1] !== offsetOf(w) || key[k + 2] !== extentOf(bufs[i]!, w)) return false;
  }
  return true;
}

export class BindGroupCache {
  /** Per executable, buckets of entries by hash. */
  private readonly byExecutable = new Map<GpuExecutable, Map<number, Entry[]>>();
  /** The entries each GPU buffer (by id) appears in, to drop them when the pool destroys it. */
  private readonly byBuffer = new Map<number, Entry[]>();
  private size = 0;

  constructor(private readonly device: GPUDevice) {}

  /** A bind group for the buffers, each whole or (a BufferRange) a window of it. */
  get(exe: GpuExecutable, bufs: GpuBuffer[], windows: (BufferRange | null)[]): GPUBindGroup {
    let buckets = this.byExecutable.get(exe);
    if (!buckets) this.byExecutable.set(exe, (buckets = new Map()));
    const hash = hashOf(bufs, windows);
    let bucket = buckets.get(hash);
    if (bucket) {
      for (let i = 0; i < bucket.length; i++) if (matches(bucket[i]!.key, bufs, windows)) return bucket[i]!.group;
    }
    if (this.size > 8192) {
      this.clear();
      return this.get(exe, bufs, windows);
    }
    if (!bucket) buckets.set(hash, (bucket = []));
    const group = this.device.createBindGroup({
      label: `${exe.kernel.name} buffers`,
      layout: exe.layout0,
      entries: bufs.map((b, i) => {
        const w = windows[i];
        return { binding: i, resource: w ? { buffer: b.gpu, offset: w.offset * elementBytes(w.dtype), size: Math.max(4, deviceBytes(w.length, w.dtype)) } : { buffer: b.gpu, offset: 0, size: b.bindBytes } };
      }),
    });
    const entry: Entry = { key: bufs.flatMap((b, i) => [b.id, offsetOf(windows[i]), extentOf(b, windows[i])]), group, bucket };
    bucket.push(entry);
    this.size++;
    for (const b of bufs) {
      const entries = this.byBuffer.get(b.id);
      if (entries) entries.push(entry);
      else this.byBuffer.set(b.id, [entry]);
    }
    return group;
  }

  /** Forgets the bind groups that hold a buffer the pool destroys (the others stay cached). */
  drop(gpu: GPUBuffer): void {
    const id = gpuId(gpu);
    for (const entry of this.byBuffer.get(id) ?? []) {
      const i = entry.bucket.indexOf(entry);
      if (i >= 0) {
        entry.bucket.splice(i, 1);
        this.size--;
      }
    }
    this.byBuffer.delete(id);
  }

  clear(): void {
    this.byExecutable.clear();
    this.byBuffer.clear();
    this.size = 0;
  }
}
