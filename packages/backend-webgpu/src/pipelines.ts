// The pipeline cache: WGSL compiled to compute pipelines, one per kernel hash. The device checks shaders
// asynchronously, so each pipeline carries a promise of its compile error, which the next read or flush
// awaits (takeCompileError) and the next dispatch of a failed kernel throws.
import type { Executable, Kernel } from '@cce/core';
import { kernelHash } from '@cce/core';

export interface GpuExecutable extends Executable {
  pipeline: GPUComputePipeline;
  layout0: GPUBindGroupLayout;
  source: string;
  /** Resolves with the compile error (or null) once the device has checked the shader and pipeline. */
  checked: Promise<string | null>;
  error: string | null;
}

export class PipelineCache {
  private readonly pipelines = new Map<string, GpuExecutable>();
  /** Executables whose compile check has not been awaited by a read or flush yet. */
  private readonly unchecked = new Set<GpuExecutable>();

  /** `uniformLayout`: bind group layout 1, for kernels with uniforms. */
  constructor(private readonly device: GPUDevice, private readonly uniformLayout: GPUBindGroupLayout) {}

  get(hash: string): GpuExecutable | undefined {
    return this.pipelines.get(hash);
  }

  get size(): number {
    return this.pipelines.size;
  }

  clear(): void {
    this.pipelines.clear();
  }

  /** Compiles `source` for `kernel` (whose bindings it must declare as generateWgsl does) and caches it. */
  compile(kernel: Kernel, source: string): GpuExecutable {
    const hash = kernelHash(kernel);
    const label = kernel.name;
    const d = this.device;
    d.pushErrorScope('validation');
    const module = d.createShaderModule({ code: source, label });
    const layout0 = d.createBindGroupLayout({
      label: `${label} buffers`,
      entries: kernel.buffers.map((b, i) => ({
        binding: i, visibility: GPUShaderStage.COMPUTE,
        buffer: { type: b.access === 'read' ? 'read-only-storage' as const : 'storage' as const },
      })),
    });
    const layouts = kernel.uniforms.length ? [layout0, this.uniformLayout] : [layout0];
    const pipeline = d.createComputePipeline({
      label,
      layout: d.createPipelineLayout({ label, bindGroupLayouts: layouts }),
      compute: { module, entryPoint: 'main' },
    });
    const scope = d.popErrorScope();
    const exe: GpuExecutable = { kernel, hash, pipeline, layout0, source, checked: Promise.resolve(null), error: null };
    exe.checked = scope.then(async (err) => {
      if (!err) return null;
      let details = '';
      try {
        const info = await module.getCompilationInfo();
        details = info.messages.filter((m) => m.type === 'error').map((m) => `line ${m.lineNum}:${m.linePos}: ${m.message}`).join('; ');
      } catch {
        // getCompilationInfo is optional; the scope's message suffices.
      }
      exe.error = `webgpu: kernel '${kernel.name}' failed to compile: ${details || err.message.trim()}\n${numbered(source)}`;
      if (this.pipelines.get(hash) === exe) this.pipelines.delete(hash);
      return exe.error;
    }, (e: unknown) => `webgpu: kernel '${kernel.name}': checking its pipeline failed: ${(e as Error)?.message ?? e}`);
    this.pipelines.set(hash, exe);
    this.unchecked.add(exe);
    return exe;
  }

  /** Waits for the checks of the pipelines compiled since the last call; the first error, or null. */
  async takeCompileError(): Promise<string | null> {
    const compiled = [...this.unchecked];
    this.unchecked.clear();
    const errors = (await Promise.all(compiled.map((e) => e.checked))).filter((e): e is string => e !== null);
    return errors[0] ?? null;
  }
}

function numbered(source: string): string {
  return source.split('\n').map((l, i) => `${String(i + 1).padStart(4)} | ${l}`).join('\n');
}
