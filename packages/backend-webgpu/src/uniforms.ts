// The uniform ring: the uniform values of every dispatch in a batch, each in its own window of one
// staging buffer (aligned to minUniformBufferOffsetAlignment), uploaded with one writeBuffer when the
// batch is submitted and bound per dispatch as one bind group with a dynamic offset.
import type { Kernel } from '@cce/core';

/** Uniform values of one dispatch live in a window of this many bytes of the batch's uniform buffer. */
export const UNIFORM_WINDOW = 512;
export const MAX_UNIFORMS = UNIFORM_WINDOW / 4;

export class UniformRing {
  /** Bind group layout 1 of every pipeline whose kernel has uniforms. */
  readonly layout: GPUBindGroupLayout;
  private readonly buffer: GPUBuffer;
  private readonly bindGroup: GPUBindGroup;
  private readonly staging: ArrayBuffer;
  private readonly f32: Float32Array;
  private readonly i32: Int32Array;
  private readonly u32: Uint32Array;
  private readonly dynamicOffset = new Uint32Array(1);
  private readonly align: number;
  /** Bytes of the staging buffer the open batch has filled. */
  private bytes = 0;

  /** `slots`: dispatches per batch. */
  constructor(device: GPUDevice, slots: number) {
    this.align = Math.max(16, device.limits.minUniformBufferOffsetAlignment);
    const size = slots * Math.max(this.align, 16) + UNIFORM_WINDOW;
    this.staging = new ArrayBuffer(size);
    this.f32 = new Float32Array(this.staging);
    this.i32 = new Int32Array(this.staging);
    this.u32 = new Uint32Array(this.staging);
    this.buffer = device.createBuffer({ size, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label: 'uniforms' });
    this.layout = device.createBindGroupLayout({
      label: 'uniforms',
      entries: [{ binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform', hasDynamicOffset: true, minBindingSize: 0 } }],
    });
    this.bindGroup = device.createBindGroup({
      label: 'uniforms', layout: this.layout, entries: [{ binding: 0, resource: { buffer: this.buffer, size: UNIFORM_WINDOW } }],
    });
  }

  /** Whether the staging buffer has no room for another dispatch's window. */
  get full(): boolean {
    return this.bytes + UNIFORM_WINDOW > this.staging.byteLength;
  }

  /** Stores a dispatch's uniform values (at least one) in the next window; returns its byte offset. */
  push(decls: Kernel['uniforms'], values: Record<string, number>): number {
    const offset = this.bytes;
    const word = offset >> 2;
    for (let k = 0; k < decls.length; k++) {
      const decl = decls[k]!;
      const v = values[decl.name]!;
      if (decl.type === 'f32') this.f32[word + k] = v;
      else if (decl.type === 'i32') this.i32[word + k] = v;
      else this.u32[word + k] = v;
    }
    this.bytes += Math.ceil(Math.max(16, decls.length * 4) / this.align) * this.align;
    return offset;
  }

  /** Binds the window at `offset` as bind group 1. */
  bind(pass: GPUComputePassEncoder, offset: number): void {
    this.dynamicOffset[0] = offset;
    pass.setBindGroup(1, this.bindGroup, this.dynamicOffset, 0, 1);
  }

  /** Writes the filled windows to the GPU (before the batch's submit) and starts over for the next batch. */
  upload(queue: GPUQueue): void {
    if (this.bytes) queue.writeBuffer(this.buffer, 0, this.staging, 0, this.bytes);
    this.bytes = 0;
  }

  destroy(): void {
    this.buffer.destroy();
  }
}
