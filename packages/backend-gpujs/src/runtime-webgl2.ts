// The 'webgl2' mode (a browser's WebGL2; in a worker through OffscreenCanvas): buffers are host arrays, as
// in the host modes, that gpu.js uploads as textures per call, and a kernel returns its outputs read back
// as a fresh array. Passing gpu.js's pipeline textures from kernel to kernel instead (as 'headlessgl'
// does) would save the round trips, but gpu.js 2.24 rebuilds a kernel whose argument changes between an
// array and a texture without its dynamic arguments (the rebuilt kernel's setting is misspelt), and a
// later, larger argument then overflows the texture.
import type { GpuJsKernelSettings } from './gpujs-types.js';
import type { LoweredParam } from './lower.js';
import { argumentTypes } from './mode-runtime.js';
import { HostRuntime } from './runtime-host.js';

export class WebGl2Runtime extends HostRuntime {
  readonly mode = 'webgl2';
  readonly kernelMode = 'gpu';
  readonly threads = false;
  readonly roundF32 = false;
  override readonly exactDivision = false;

  constructor(readonly detail: string) {
    super();
  }

  override kernelSettings(params: LoweredParam[]): Partial<GpuJsKernelSettings> {
    return { argumentTypes: argumentTypes(params, 'Array'), tactic: 'precision' };
  }
}
