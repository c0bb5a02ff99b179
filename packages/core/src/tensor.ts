// Tensor: a shape and dtype over a reference-counted device buffer (views such as reshape share it).
import ndarray from 'ndarray';
import { type Backend, type DType, type DeviceBuffer, elementBytes } from './backend.js';
import { TENSOR_BRAND, trackTensor, untrackTensor } from './memory.js';
import type { TapeNodeOf } from './autograd/node.js';

class Storage {
  refs = 1;
  constructor(readonly backend: Backend, readonly buffer: DeviceBuffer) {}
  release() {
    if (--this.refs === 0) this.backend.free(this.buffer);
  }
}

let nextId = 1;

export class Tensor {
  readonly id = nextId++;
  readonly [TENSOR_BRAND] = true;
  readonly shape: readonly number[];
  readonly size: number;
  private storage: Storage | null;
  /** Whether backward() computes a gradient for this tensor. */
  requiresGrad = false;
  /** The accumulated gradient of a leaf (parameters); kept alive outside scopes until zeroed. */
  grad: Tensor | null = null;
  /** The tape node that produced this tensor, when it was recorded. */
  node: TapeNodeOf<Tensor> | null = null;
  /** Excluded from scope cleanup (see keep()). */
  kept = false;
  name?: string;
  /**
   * A host copy of an i32 tensor's values when it was created from host data (token ids, targets), so
   * that ops can validate indices without a device round trip. Views share it; device writes drop it.
   */
  hostValues: Int32Array | null = null;

  private constructor(shape: readonly number[], readonly dtype: DType, readonly backend: Backend, storage: Storage) {
    this.shape = Object.freeze([...shape]);
    this.size = shape.reduce((a, b) => a * b, 1);
    this.storage = storage;
    trackTensor(this);
  }

  /**
   * Allocates an uninitialised tensor on a backend (ops fill it). `op` names the op in the error when the
   * tensor exceeds the backend's largest buffer, which is checked before anything is allocated.
   */
  static empty(shape: readonly number[], dtype: DType, backend: Backend, op = 'Tensor.empty'): Tensor {
    checkShape(shape);
    const size = shape.reduce((a, b) => a * b, 1);
    checkBufferSize(op, shape, dtype, backend);
    return new Tensor(shape, dtype, backend, new Storage(backend, backend.allocate(size, dtype)));
  }

  /** A tensor of another shape with the same elements, sharing this tensor's buffer. */
  view(shape: readonly number[]): Tensor {
    const storage = this.liveStorage('view');
    checkShape(shape);
    const size = shape.reduce((a, b) => a * b, 1);
    if (size !== this.size) throw new Error(`view: cannot view [${this.shape}] (${this.size} elements) as [${shape}] (${size})`);
    storage.refs++;
    const v = new Tensor(shape, this.dtype, this.backend, storage);
    v.hostValues = this.hostValues;
    return v;
  }

  /**
   * Makes this tensor hold `src`'s buffer (same shape, dtype and backend) and disposes `src`: how an
   * optimizer updates a parameter without binding one buffer as both input and output of a kernel.
   */
  assign(src: Tensor): void {
    if (src.dtype !== this.dtype || src.backend !== this.backend || src.shape.join() !== this.shape.join()) {
      throw new Error(`assign: ${src} does not match ${this}`);
    }
    const next = src.liveStorage('assign');
    if (next === this.storage) {
      if (src !== this) src.dispose();
      return;
    }
    next.refs++;
    this.liveStorage('assign').release();
    this.storage = next;
    this.hostValues = src.hostValues;
    src.dispose();
  }

  get rank(): number {
    return this.shape.length;
  }
  get disposed(): boolean {
    return this.storage === null;
  }
  get buffer(): DeviceBuffer {
    return this.liveStorage('use').buffer;
  }

  private liveStorage(what: string): Storage {
    if (!this.storage) throw new Error(`${what}: tensor #${this.id}${this.name ? ` '${this.name}'` : ''} [${this.shape}] was disposed`);
    return this.storage;
  }

  /** Releases the tensor's buffer (when no view shares it) and its gradient. Idempotent. */
  dispose(): void {
    if (!this.storage) return;
    this.storage.release();
    this.storage = null;
    untrackTensor(this);
    this.node = null;
    this.grad?.dispose();
    this.grad = null;
  }

  /** Reads the elements back (waits for pending device work). */
  async read(): Promise<Float64Array | Float32Array | Int32Array> {
    return this.backend.read(this.buffer);
  }

  async toArray(): Promise<number[]> {
    return Array.from(await this.read());
  }

  /** The single element of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item: tensor has shape [${this.shape}], not one element`);
    return (await this.read())[0]!;
  }

  /** A host ndarray with this tensor's shape and a copy of its elements. */
  async toNdarray(): Promise<ndarray.NdArray<Float64Array | Float32Array | Int32Array>> {
    return ndarray(await this.read(), [...this.shape]);
  }

  toString(): string {
    return `Tensor(#${this.id}, [${this.shape}], ${this.dtype}, ${this.backend.name}${this.disposed ? ', disposed' : ''})`;
  }
}

/**
 * Throws when a tensor of `shape` would exceed the backend's largest buffer (elements of 4 bytes, 2 for
 * f16, as bindings count them), naming the op, the elements, the bytes and the limit; and when the
 * backend cannot hold the dtype at all (f16 without the 'f16' capability), naming the op, the dtype and
 * the backend.
 */
export function checkBufferSize(op: string, shape: readonly number[], dtype: DType, backend: Backend): void {
  if (dtype === 'f16' && !backend.capabilities.features.has('f16')) {
    throw new Error(`${op}: dtype f16 is not supported by backend '${backend.name}' (it has no f16 storage or arithmetic, ` +
      `WebGPU's shader-f16; f16 tensors are never emulated by packing): use f32, or a backend with f16 (webgpu with shader-f16, cpu)`);
  }
  const size = shape.reduce((a, b) => a * b, 1);
  const bytes = size * elementBytes(dtype);
  const limit = backend.capabilities.limits.maxBufferSize;
  if (bytes > limit) {
    throw new Error(`${op}: shape [${shape.join(', ')}] (${dtype}) has ${size} elements (${bytes} bytes), more than the largest buffer of backend '${backend.name}' (${limit} bytes)`);
  }
}

export function checkShape(shape: readonly number[]): void {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`invalid shape ${JSON.stringify(shape)}: dimensions must be non-negative integers`);
  }
}
