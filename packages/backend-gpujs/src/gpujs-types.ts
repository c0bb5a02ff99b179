// The parts of gpu.js 2.24 (and of a WebGPU device) this backend uses, typed structurally so that the
// backend neither depends on gpu.js's own typings (older than its WebGPU / WebAssembly modes) nor on
// the DOM's WebGPU types.

/** A kernel as `gpu.createKernel` returns it: callable, with the kernel instance it currently runs. */
export interface GpuJsKernelFn {
  (...args: unknown[]): unknown;
  kernel: GpuJsKernelInstance;
  setOutput(output: number[]): GpuJsKernelFn;
  build(...args: unknown[]): unknown;
  destroy(removeCanvasReferences?: boolean): void;
}

export interface GpuJsKernelInstance {
  constructor: { mode: string; name: string };
  fallbackReason?: string | null;
  compiledSource?: string;
  _buildPromise?: Promise<void> | null;
}

export interface GpuJsKernelSettings {
  output: number[];
  loopMaxIterations: number;
  dynamicOutput: boolean;
  dynamicArguments: boolean;
  argumentTypes?: string[];
  pipeline?: boolean;
  immutable?: boolean;
  precision?: 'single';
  asyncMode?: boolean;
  tactic?: 'precision';
  poolSize?: number;
}

export interface GpuJsInstance {
  createKernel(source: string, settings: GpuJsKernelSettings): GpuJsKernelFn;
  destroy(): Promise<void>;
  Kernel: { mode: string; name: string } | null;
}

export interface WebGpuContextLike {
  adapter: unknown;
  device: DeviceLike;
  isLost: boolean;
}

/** gpu.js's pipeline handle in 'webgpu' mode: a storage buffer holding f32 values. */
export interface WebGpuBufferResultLike {
  buffer: GpuBufferLike;
  output: number[];
  type: 'WebGPUBuffer';
  delete(): void;
}

/** gpu.js's pipeline handle in the GL modes. */
export interface GlTextureLike {
  toArray(): Float32Array | number[];
  delete(): void;
}

export interface GpuJsModule {
  GPU: {
    new (settings: { mode: string }): GpuJsInstance;
    isWebGPUAvailable(): Promise<boolean>;
    readonly isWebGPUSupported: boolean;
    readonly isHeadlessGLSupported: boolean;
    readonly isWebAssemblySupported: boolean;
  };
  WebGPUContext: { acquire(): Promise<WebGpuContextLike> };
  WebGPUBufferResult: new (settings: {
    buffer: GpuBufferLike;
    output: number[];
    componentCount: number;
    context: WebGpuContextLike;
    kernel: unknown;
  }) => WebGpuBufferResultLike;
  WebAssemblyKernel?: { readonly isThreadsSupported: boolean; readonly isSIMDSupported: boolean };
}

// Minimal WebGPU surface (numbers are the spec's constants).
export const BUFFER_MAP_READ = 0x0001;
export const BUFFER_COPY_SRC = 0x0004;
export const BUFFER_COPY_DST = 0x0008;
export const BUFFER_STORAGE = 0x0080;
export const MAP_MODE_READ = 0x0001;

export interface GpuBufferLike {
  readonly size: number;
  mapAsync(mode: number, offset?: number, size?: number): Promise<void>;
  getMappedRange(offset?: number, size?: number): ArrayBuffer;
  unmap(): void;
  destroy(): void;
}

export interface DeviceLike {
  onuncapturederror: ((event: { error: { message: string } }) => void) | null;
  limits: { maxStorageBufferBindingSize: number; maxBufferSize: number; maxComputeWorkgroupsPerDimension: number };
  createBuffer(desc: { size: number; usage: number; mappedAtCreation?: boolean }): GpuBufferLike;
  createCommandEncoder(): {
    copyBufferToBuffer(src: GpuBufferLike, srcOffset: number, dst: GpuBufferLike, dstOffset: number, size: number): void;
    finish(): unknown;
  };
  queue: {
    writeBuffer(buffer: GpuBufferLike, offset: number, data: ArrayBufferView): void;
    submit(commands: unknown[]): void;
    onSubmittedWorkDone(): Promise<void>;
  };
}

export interface AdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}

export interface GpuLike {
  requestAdapter(): Promise<{ info?: AdapterInfoLike; isFallbackAdapter?: boolean } | null>;
}
