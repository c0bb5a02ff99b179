// @cce/backend-gpujs: the IR's map kernels on gpu.js ('webgpu', 'headlessgl', 'webasm' or 'cpu' mode).
// Importing this package registers the backend as 'gpujs' (and 'gpujs:<mode>' to force a mode).
import { registerBackend } from '@cce/core';
import { GpujsBackend, type GpujsBackendOptions } from './backend.js';
import { loadGpuJs } from './load.js';
import { type GpujsMode, chooseMode, isGpujsMode } from './modes.js';
import { selfTest } from './self-test.js';

export { GpujsBackend, type GpujsBackendOptions } from './backend.js';
export { LoweringError, lowerMapKernel, mapParts, type LowerOptions, type LoweredKernel, type LoweredParam } from './lower.js';
export { GPUJS_MODES, availableModes, chooseMode, probeMode, isGpujsMode, type GpujsMode, type ModeProbe } from './modes.js';
export { EXACT_INT } from './limits.js';

/**
 * Starts a gpu.js backend: in `mode` (which must be available), or in the first available of 'webgpu',
 * 'headlessgl', 'webasm', 'cpu'. A self-test kernel runs before it is returned.
 */
export async function createGpujsBackend(mode?: GpujsMode | 'auto', opts: GpujsBackendOptions = {}): Promise<GpujsBackend> {
  const choice = await chooseMode(mode === 'auto' ? undefined : mode);
  const { mod } = await loadGpuJs();
  const backend = new GpujsBackend(mod, choice, opts);
  try {
    await selfTest(backend);
  } catch (e) {
    backend.destroy();
    throw new Error(`gpujs: mode '${choice.probe.mode}' failed its self-test: ${(e as Error).message}`);
  }
  return backend;
}

registerBackend({
  name: 'gpujs',
  priority: 10,
  async create(variant?: string) {
    if (variant !== undefined && variant !== 'auto' && !isGpujsMode(variant)) {
      throw new Error(`gpujs: unknown mode '${variant}' (use gpujs, gpujs:webgpu, gpujs:headlessgl, gpujs:webasm or gpujs:cpu)`);
    }
    return createGpujsBackend(variant as GpujsMode | 'auto' | undefined);
  },
});
