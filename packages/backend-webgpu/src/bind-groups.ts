// The bind-group cache: a dispatch's storage-buffer bind group, keyed by pipeline and by each buffer's id
// and bound range, so that a training step that sees the same buffers every step (the pool sees to that)
// creates no new bind groups after its first. Groups that hold a buffer the pool destroys are dropped.
import { type BufferRange, elementBytes } from '@cce/core';
import { type GpuBuffer, deviceBytes, gpuId } from './buffer.js';
import type { GpuExecutable } from './pipelines.js';

export class BindGroupCache {
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  /** The bind-group keys each GPU buffer (by id) appears in, to drop them when the pool destroys it. */
  private readonly groupKeys = new Map<number, string[]>();

  constructor(private readonly device: GPUDevice) {}

  /** A bind group for the buffers, each whole or (a BufferRange) a window of it. */
  get(exe: GpuExecutable, bufs: GpuBuffer[], windows: (BufferRange | null)[]): GPUBindGroup {
    let key = exe.hash;
    for (let i = 0; i < bufs.length; i++) {
      const w = windows[i];
      key += w ? `|${bufs[i]!.id}@${w.offset}+${w.length}` : `|${bufs[i]!.id}:${bufs[i]!.bindBytes}`;
    }
    let group = this.bindGroups.get(key);
    if (!group) {
      if (this.bindGroups.size > 8192) this.clear();
      group = this.device.createBindGroup({
        label: `${exe.kernel.name} buffers`,
        layout: exe.layout0,
        entries: bufs.map((b, i) => {
          const w = windows[i];
          return { binding: i, resource: w ? { buffer: b.gpu, offset: w.offset * elementBytes(w.dtype), size: Math.max(4, deviceBytes(w.length, w.dtype)) } : { buffer: b.gpu, offset: 0, size: b.bindBytes } };
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

  /** Forgets the bind groups that hold a buffer the pool destroys (the others stay cached). */
  drop(gpu: GPUBuffer): void {
    const id = gpuId(gpu);
    for (const key of this.groupKeys.get(id) ?? []) this.bindGroups.delete(key);
    this.groupKeys.delete(id);
  }

  clear(): void {
    this.bindGroups.clear();
    this.groupKeys.clear();
  }
}
