// The Backend contract: everything core asks of a device. A backend (the CPU reference interpreter,
// WebGPU, gpu.js) implements this interface and registers itself when its package is imported.
//
// Ordering: dispatches and writes take effect in call order. A backend may defer dispatches (batch them
// in one command encoder) until `read` or `flush`; `read` always sees every earlier dispatch.
import type { Capability, Kernel, SubgroupMatrixConfig } from './ir/types.js';

/** Tensor and buffer element types; f16 only where the backend has the 'f16' capability. */
export type DType = 'f32' | 'i32' | 'f16';

/** An opaque device buffer of `length` elements of `dtype`. */
export interface DeviceBuffer {
  readonly length: number;
  readonly dtype: DType;
  /** Bytes this buffer occupies on the device (a float64 reference stores f32 data in 8 bytes). */
  readonly bytes: number;
}

/**
 * A window of another buffer bound in its place: elements [offset, offset + length) of `base`. Only
 * backends with `capabilities.bindingRanges` accept them; `offset` must be a multiple of 64 elements
 * (WebGPU aligns storage binding offsets to 256 bytes). This is how a tensor larger than the largest
 * storage binding is processed in chunks that fit.
 */
export interface BufferRange extends DeviceBuffer {
  readonly base: DeviceBuffer;
  readonly offset: number;
}

export const RANGE_ALIGNMENT = 64;

/** The element alignment of a window's offset: 256 bytes (64 elements of 4 bytes, 128 of f16). */
export const rangeAlignment = (dtype: DType): number => (RANGE_ALIGNMENT * 4) / elementBytes(dtype);

export function bufferRange(base: DeviceBuffer, offset: number, length: number): BufferRange {
  const align = rangeAlignment(base.dtype);
  if (!Number.isInteger(offset) || offset % align !== 0 || offset < 0 || length < 0 || offset + length > base.length) {
    throw new Error(`bufferRange: [${offset}, ${offset + length}) is not a ${align}-aligned window of a buffer of ${base.length} ${base.dtype} elements`);
  }
  return { base, offset, length, dtype: base.dtype, bytes: length * elementBytes(base.dtype) };
}

export function isBufferRange(b: DeviceBuffer): b is BufferRange {
  return 'base' in b && 'offset' in b;
}

/** A compiled kernel, cached by the backend under the kernel's structural hash. */
export interface Executable {
  readonly kernel: Kernel;
  readonly hash: string;
}

export interface Bindings {
  /** Buffers by the kernel's binding names. */
  buffers: Record<string, DeviceBuffer>;
  /** Uniform scalars by name (sizes, strides, scales). */
  uniforms?: Record<string, number>;
}

/** Workgroup counts along x, y, z (each at most `limits.maxWorkgroupsPerDimension`). */
export type Grid = [number, number, number];

export interface Limits {
  /** Largest storage buffer binding, in bytes. */
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  /** Workgroup memory per workgroup, in bytes (0 where there is none, as on gpu.js). */
  maxWorkgroupStorageSize: number;
  maxInvocationsPerWorkgroup: number;
  maxWorkgroupsPerDimension: number;
}

export interface Capabilities {
  /** Which IR features kernels may use here; a kernel needing a missing one is refused at compile. */
  features: ReadonlySet<Capability>;
  /** Subgroup size when 'subgroups' is present (the interpreter's is configurable). */
  subgroupSize?: number;
  /**
   * The largest subgroup size where sizes vary (WebGPU's subgroupMaxSize; default subgroupSize): a kernel
   * with subgroup matrices needs a workgroup x size that is a multiple of it.
   */
  subgroupMaxSize?: number;
  /** The subgroup-matrix products offered, with 'subgroupMatrix'. */
  subgroupMatrixConfigs?: readonly SubgroupMatrixConfig[];
  /** Only map kernels run (gpu.js). */
  mapOnly: boolean;
  /** dispatch() accepts BufferRange bindings. */
  bindingRanges?: boolean;
  /**
   * Workgroup tiling buys nothing here (the reference interpreter runs a workgroup's invocations one after
   * another, so staging tiles in workgroup memory only adds work): ops choose their map variants by
   * default, and tuned variants run only when forced (withVariant) or when nothing else is supported.
   */
  prefersMapKernels?: boolean;
  limits: Limits;
}

export interface MemoryStats {
  /** Buffers allocated and not freed. */
  liveBuffers: number;
  /** Bytes held by live buffers. */
  bytesInUse: number;
  /** Highest bytesInUse since the last resetPeak(). */
  peakBytes: number;
  /** Bytes kept in a pool for reuse, not counted as in use. */
  pooledBytes: number;
}

export interface Backend {
  /** Registry name, e.g. 'cpu', 'webgpu', 'gpujs:webasm'. */
  readonly name: string;
  /** A one-line description (device, mode) for reports. */
  readonly description: string;
  readonly capabilities: Capabilities;

  allocate(length: number, dtype: DType): DeviceBuffer;
  /** Frees a buffer; a backend with deferred work frees it after that work is submitted. */
  free(buffer: DeviceBuffer): void;
  write(buffer: DeviceBuffer, data: ArrayLike<number>, offset?: number): void;
  /** Reads back every element; sees all earlier dispatches. */
  read(buffer: DeviceBuffer): Promise<Float64Array | Float32Array | Int32Array>;

  /** Validates and compiles a kernel (cached by its hash); throws if it needs a missing capability. */
  compile(kernel: Kernel): Executable;
  dispatch(exe: Executable, bindings: Bindings, grid: Grid): void;
  /** Submits deferred work and waits until it completes. */
  flush(): Promise<void>;

  memory(): MemoryStats;
  resetPeak(): void;
  /** Releases the device; the backend is unusable afterwards. */
  destroy(): void;
}

/** Byte size of one element of a dtype on a device that stores f32 in `floatBytes`. */
export function elementBytes(dtype: DType, floatBytes = 4): number {
  return dtype === 'f32' ? floatBytes : dtype === 'f16' ? 2 : 4;
}
