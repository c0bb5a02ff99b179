// The worker's backends: which ones this browser offers (for the page's list), starting the one the user
// picked with the fallback core's registry takes when it does not start, and a watch on the kernels a
// backend compiles (their workgroup sizes and memory beside the adapter's limits).
import * as C from '@cce/core';
import { WebGpuBackend } from '@cce/backend-webgpu';
import { GpujsBackend, availableModes } from '@cce/backend-gpujs';
import type { BackendInfo, BackendOption, KernelStats, SetupRequest } from './protocol.js';

/** What measurement in Chromium 156 found about some gpu.js modes in a page. */
const CAVEATS: Partial<Record<string, string>> = {
  // gpu.js gives every kernel (and size) its own WebAssembly.Memory; Chromium refused a new one during a
  // micro GPT's first step ('WebAssembly.Memory(): could not allocate memory').
  webasm: "in a browser only small programs: gpu.js gives every kernel its own WebAssembly memory, and Chromium refused a new one within a micro GPT's first training step",
  // gpu.js requests its own device with the default 8 storage buffers per stage; some of our kernels bind 9.
  webgpu: "gpu.js's own device keeps WebGPU's default of 8 storage buffers a kernel, and some kernels here bind 9",
};

/** webgpu (an adapter answered), each gpu.js mode with what it found or why it is unavailable, cpu. */
export async function backendOptions(): Promise<BackendOption[]> {
  const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  const adapter = gpu ? await gpu.requestAdapter().catch(() => null) : null;
  const webgpu: BackendOption = {
    name: 'webgpu',
    label: 'WebGPU',
    available: !!adapter,
    detail: adapter ? [adapter.info.vendor, adapter.info.architecture, adapter.info.description].filter(Boolean).join(' / ') || 'an adapter'
      : gpu ? 'no adapter answered (navigator.gpu.requestAdapter() gave null)' : 'this browser has no navigator.gpu',
  };
  const modes = (await availableModes()).map((p): BackendOption => ({
    name: `gpujs:${p.mode}`, label: `gpu.js ${p.mode}`, available: p.available, detail: p.available && CAVEATS[p.mode] ? `${p.detail}; ${CAVEATS[p.mode]}` : p.detail,
  }));
  const cpu: BackendOption = { name: 'cpu', label: 'CPU reference', available: true, detail: 'the IR interpreter in f32 (slow: for checking)' };
  return [webgpu, ...modes, cpu];
}

/**
 * Which variants a backend runs: core's variant choice tries the map kernels first on a backend whose
 * capabilities say `prefersMapKernels` (the reference interpreter's, where tiling only costs). A
 * software WebGPU adapter is such a place too: on SwiftShader a micro GPT step took 5 s with the tuned
 * kernels (a workgroup row sum 115 ms a dispatch) and 0.6-0.9 s with map kernels (2 loaded cores).
 * Map-only backends (gpu.js) and the interpreter keep their own setting.
 */
export function chooseKernels(backend: C.Backend, choice: SetupRequest['kernels'], info: BackendInfo): void {
  const caps = backend.capabilities as { prefersMapKernels?: boolean; mapOnly?: boolean };
  if (caps.mapOnly || !(backend instanceof WebGpuBackend)) {
    info.mapKernelsFirst = !!caps.mapOnly || !!caps.prefersMapKernels;
    info.kernelsWhy = caps.mapOnly ? 'this backend runs map kernels only' : "the backend's own preference";
    return;
  }
  const software = C.isSoftwareAdapter({ ...backend.report, text: backend.report.name });
  caps.prefersMapKernels = choice === 'map' || (choice === 'auto' && software);
  info.mapKernelsFirst = caps.prefersMapKernels;
  info.kernelsWhy = choice !== 'auto' ? `${choice} kernels as chosen` : software ? 'map kernels first: a software adapter runs workgroup barriers slowly' : 'tuned kernels: a hardware adapter';
}

/** Starts `requested`; when it does not start, the best available backend instead (each failure named). */
export async function startBackend(requested: string): Promise<{ backend: C.Backend; info: BackendInfo }> {
  const lines: string[] = [];
  const fallbacks: string[] = [];
  let backend: C.Backend;
  try {
    backend = await C.useBackend(requested, { log: (l) => lines.push(l) });
  } catch (e) {
    fallbacks.push(`${requested}: ${(e as Error).message}`);
    backend = await C.useBackend(undefined, { log: (l) => lines.push(l) });
  }
  return { backend, info: describe(backend, requested, lines.join(' '), fallbacks) };
}

function describe(backend: C.Backend, requested: string, line: string, fallbacks: string[]): BackendInfo {
  const limits: Record<string, number> = { ...backend.capabilities.limits };
  let adapter: BackendInfo['adapter'] = null;
  if (backend instanceof WebGpuBackend) {
    const r = backend.report;
    adapter = { name: r.name, architecture: r.architecture, vendor: r.vendor, isFallbackAdapter: r.isFallbackAdapter, features: r.features };
    for (const k of ['maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupStorageSize', 'maxStorageBufferBindingSize', 'maxBufferSize']) {
      if (r.limits[k] !== undefined) limits[k] = r.limits[k]!;
    }
  }
  return {
    name: backend.name, requested, line, fallbacks, description: backend.description, mapKernelsFirst: false, kernelsWhy: '',
    gpujsMode: backend instanceof GpujsBackend ? backend.mode : null, adapter, limits,
  };
}

/** Counts the distinct kernels `backend` compiles from now on, and the largest workgroup and workgroup memory among them. */
export function watchKernels(backend: C.Backend): KernelStats {
  const stats: KernelStats = { compiled: 0, tuned: 0, maxInvocations: 0, maxWorkgroupBytes: 0 };
  const seen = new WeakSet<C.Kernel>();
  const compile = backend.compile.bind(backend);
  backend.compile = (kernel: C.Kernel) => {
    const exe = compile(kernel);
    if (!seen.has(kernel)) {
      seen.add(kernel);
      const [x, y, z] = kernel.workgroupSize;
      const bytes = C.workgroupBytes(kernel);
      stats.compiled++;
      if (bytes > 0) stats.tuned++;
      stats.maxInvocations = Math.max(stats.maxInvocations, x * y * z);
      stats.maxWorkgroupBytes = Math.max(stats.maxWorkgroupBytes, bytes);
    }
    return exe;
  };
  return stats;
}
