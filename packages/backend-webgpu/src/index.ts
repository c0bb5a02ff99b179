// @cce/backend-webgpu: the WebGPU backend (Dawn's `webgpu` package in Node, navigator.gpu in a browser).
// Importing this module registers it as 'webgpu' (priority 20, above the CPU reference).
import { isSoftwareAdapter, registerBackend } from '@cce/core';
import { createWebGpuBackend } from './backend.js';

export { WebGpuBackend, createWebGpuBackend, type WebGpuBackendOptions } from './backend.js';
export { acquireDevice, dawnOptionsFor, type AcquiredDevice, type AdapterReport, type DeviceOptions, FEATURE_TOGGLES, SUBGROUP_MATRIX, USEFUL_FEATURES } from './device.js';
export { generateWgsl } from './wgsl.js';
export { GpuProfiler, formatProfile, type KernelTiming } from './profiler.js';
export { BufferPool, sizeClass } from './pool.js';

registerBackend({
  name: 'webgpu',
  priority: 20,
  create: async (variant, opts) => {
    if (variant) throw new Error(`webgpu: unknown variant '${variant}' (use 'webgpu')`);
    const backend = await createWebGpuBackend();
    // Chosen by preference rather than by name, a software adapter steps aside for gpu.js 'webasm'.
    if (opts && !opts.explicit && isSoftwareAdapter({ ...backend.report, text: backend.report.name })) {
      backend.destroy();
      throw new Error(`only a software adapter answered (${backend.report.name}); name the backend 'webgpu' to use it`);
    }
    return backend;
  },
});
