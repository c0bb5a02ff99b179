// Building gpu.js kernels from IR map kernels: lowering (lower.ts) with the mode's options, gpu.js kernel
// settings, an eager build so that translation errors throw at compile time, and the variants a dispatch
// may need (the tail-keeping one on device modes, the threaded one for large 'webasm' runs).
import type { Executable, Kernel } from '@cce/core';
import { validateKernel } from '@cce/core';
import type { GpuJsInstance, GpuJsKernelFn, GpuJsKernelSettings } from './gpujs-types.js';
import { type LoweredKernel, lowerMapKernel } from './lower.js';
import type { ModeRuntime } from './mode-runtime.js';

/** gpu.js caps loops at loopMaxIterations; the IR's loops are bounded by their own ranges. */
const LOOP_MAX = 2 ** 31 - 1;

/** The uniform that the tail-keeping variant compares against (outputs past it keep their values). */
export const TAIL_UNIFORM = 'cce_n';

export interface Compiled {
  lowered: LoweredKernel;
  fn: GpuJsKernelFn;
  /** 'webasm' with threads: the same kernel in gpu.js's async mode, which splits runs over its worker pool. */
  threaded: GpuJsKernelFn | null;
  /** Whether the kernel loops (then its per-element work is large enough for threads at smaller sizes). */
  loops: boolean;
}

/**
 * 'webasm' worker-pool thresholds: a pool round trip costs more than a loop-free kernel's work below
 * about 2^18 elements (measured here), while a kernel with a loop (a matmul, a reduction) gains from
 * 4096 elements, gpu.js's own threshold.
 */
const THREADS_MIN_LOOP = 4096;
const THREADS_MIN_PLAIN = 2 ** 18;

export interface GpujsExecutable extends Executable {
  main: Compiled;
  /** The variant that keeps outputs past the count (device modes), compiled on first need. */
  tail: Compiled | null;
}

export class KernelBuilder {
  /** `name`: the backend's, for error messages. */
  constructor(private readonly gpu: GpuJsInstance, private readonly runtime: ModeRuntime, private readonly name: string) {}

  /** Lowers a kernel and builds its gpu.js kernel, so that lowering and translation errors throw here. */
  build(kernel: Kernel, keepTail: boolean): Compiled {
    const lowered = this.lower(kernel, keepTail);
    const fn = this.createKernel(kernel, lowered, false);
    return { lowered, fn, threaded: null, loops: lowered.loops };
  }

  /** The gpu.js kernel that runs `n` outputs of `compiled`: on the worker pool when threads pay off. */
  runnerFor(kernel: Kernel, compiled: Compiled, n: number): GpuJsKernelFn {
    if (this.runtime.threads && n >= (compiled.loops ? THREADS_MIN_LOOP : THREADS_MIN_PLAIN)) {
      return compiled.threaded ??= this.createKernel(kernel, compiled.lowered, true);
    }
    return compiled.fn;
  }

  private lower(kernel: Kernel, keepTail: boolean): LoweredKernel {
    const info = validateKernel(kernel);
    return lowerMapKernel(kernel, info, {
      roundF32: this.runtime.roundF32,
      exactDivision: this.runtime.exactDivision,
      ...(keepTail ? { tailUniform: TAIL_UNIFORM } : {}),
    });
  }

  private createKernel(kernel: Kernel, lowered: LoweredKernel, threaded: boolean): GpuJsKernelFn {
    const settings: GpuJsKernelSettings = {
      output: [1],
      loopMaxIterations: LOOP_MAX,
      dynamicOutput: true,
      dynamicArguments: true,
      precision: 'single',
      immutable: true,
      ...this.runtime.kernelSettings(lowered.params),
    };
    if (threaded) settings.asyncMode = true;
    let fn: GpuJsKernelFn;
    const where = `${this.name}: kernel '${kernel.name}'`;
    try {
      fn = this.gpu.createKernel(lowered.source, settings);
      const dummies = lowered.params.map((p) => (p.kind === 'uniform' ? 0 : this.runtime.placeholder()));
      const built = fn.build(...dummies);
      if (built && typeof (built as Promise<void>).then === 'function') {
        // WGSL compilation finishes asynchronously; its failure rejects the kernel's first run.
        (built as Promise<void>).catch(() => {});
      }
    } catch (e) {
      throw new Error(`${where}: gpu.js rejected the generated kernel: ${(e as Error).message.split('\n')[0]}\n${lowered.source}`);
    }
    this.checkNotDegraded(fn, where);
    return fn;
  }

  /** gpu.js quietly runs a kernel it cannot take in 'webasm' on its 'cpu' backend; refuse that instead. */
  private checkNotDegraded(fn: GpuJsKernelFn, where: string): void {
    const ran = fn.kernel.constructor.mode;
    const mode = this.runtime.kernelMode ?? this.runtime.mode;
    if (ran !== mode) {
      throw new Error(`${where}: gpu.js would run it in '${ran}' instead of '${mode}'${fn.kernel.fallbackReason ? ` (${fn.kernel.fallbackReason})` : ''}`);
    }
  }
}
