// The backend's DeviceBuffer: a pooled GPUBuffer with the sizes the dispatch path needs read once, and
// the numeric ids that key the bind-group cache (by GPU buffer, so that a pooled buffer keeps its id).

import type { DType, DeviceBuffer } from '@cce/core';

let nextBufferId = 1;

export class GpuBuffer implements DeviceBuffer {
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

const gpuIds = new WeakMap<GPUBuffer, number>();

/** The id of a GPU buffer (assigned on first sight). */
export const gpuId = (b: GPUBuffer) => {
  let id = gpuIds.get(b);
  if (id === undefined) gpuIds.set(b, (id = nextBufferId++));
  return id;
};
