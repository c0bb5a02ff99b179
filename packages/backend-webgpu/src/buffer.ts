// The backend's DeviceBuffer: a pooled GPUBuffer with the sizes the dispatch path needs read once, and
// the numeric ids that key the bind-group cache (by GPU buffer, so that a pooled buffer keeps its id);
// and the host side of its data: f32 and i32 as they are, f16 as 16-bit encodings (array<f16>).

import type { DType, DeviceBuffer } from '@cce/core';
import { decodeF16, elementBytes, encodeF16 } from '@cce/core';

/** Bytes `length` elements take on the device: WebGPU copies, writes and binds whole 4-byte words. */
export const deviceBytes = (length: number, dtype: DType): number => Math.ceil((length * elementBytes(dtype)) / 4) * 4;

/**
 * The bytes of a write of `data` at element `offset`: f16 values encoded (padded with a zero to a whole
 * word; the buffer always has room, see deviceBytes). An f16 write must start on a word.
 */
export function uploadBytes(dtype: DType, data: ArrayLike<number>, offset: number): { view: ArrayBufferView; byteOffset: number } {
  if (dtype === 'f32') return { view: data instanceof Float32Array ? data : Float32Array.from(data), byteOffset: offset * 4 };
  if (dtype === 'i32') return { view: data instanceof Int32Array ? data : Int32Array.from(data), byteOffset: offset * 4 };
  if (offset % 2) throw new Error(`webgpu: a write to an f16 buffer starts at element ${offset}; f16 writes start at an even element (whole 4-byte words)`);
  const bits = encodeF16(data);
  return { view: bits.length % 2 ? Uint16Array.from([...bits, 0]) : bits, byteOffset: offset * 2 };
}

/** The first `length` elements of bytes read back from a buffer of `dtype`. */
export function downloadValues(dtype: DType, bytes: ArrayBuffer, length: number): Float32Array | Int32Array {
  if (dtype === 'f16') return decodeF16(new Uint16Array(bytes, 0, length));
  return dtype === 'f32' ? new Float32Array(bytes, 0, length) : new Int32Array(bytes, 0, length);
}

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
    this.bindBytes = Math.min(this.bytes, Math.max(16, Math.ceil((length * elementBytes(dtype)) / 16) * 16));
  }
}

const gpuIds = new WeakMap<GPUBuffer, number>();

/** The id of a GPU buffer (assigned on first sight). */
export const gpuId = (b: GPUBuffer) => {
  let id = gpuIds.get(b);
  if (id === undefined) gpuIds.set(b, (id = nextBufferId++));
  return id;
};
