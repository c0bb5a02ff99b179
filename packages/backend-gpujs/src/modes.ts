// gpu.js mode detection. Preference: 'webgpu' when a hardware adapter answers, 'headlessgl' when the
// native `gl` addon loads, else 'webasm' (WebAssembly, SIMD, worker threads), else 'webgpu' on a software
// adapter, else 'cpu' (gpu.js's JavaScript). Any available mode can be forced ('gpujs:webgpu' runs on
// lavapipe too).
import { isSoftwareAdapter } from '@cce/core';
import type { AdapterInfoLike, GpuJsModule, WebGpuContextLike } from './gpujs-types.js';
import { ensureNavigatorGpu, loadGpuJs, tryRequireBesideGpuJs } from './load.js';

export type GpujsMode = 'webgpu' | 'headlessgl' | 'webasm' | 'cpu';
export const GPUJS_MODES: readonly GpujsMode[] = ['webgpu', 'headlessgl', 'webasm', 'cpu'];

export function isGpujsMode(s: string): s is GpujsMode {
  return (GPUJS_MODES as readonly string[]).includes(s);
}

export interface ModeProbe {
  mode: GpujsMode;
  available: boolean;
  /** What was found (adapter, threads) or why the mode is unavailable. */
  detail: string;
  /** 'webgpu' only: the shared device gpu.js uses, and the adapter's description. */
  context?: WebGpuContextLike;
  adapter?: AdapterInfoLike & { software: boolean };
}

function describeAdapter(info: AdapterInfoLike | undefined, fallback: boolean | undefined): AdapterInfoLike & { software: boolean } {
  const software = isSoftwareAdapter({
    isFallbackAdapter: fallback || info?.isFallbackAdapter, architecture: info?.architecture, text: `${info?.device ?? ''} ${info?.description ?? ''}`,
  });
  return { ...(info ? { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description } : {}), software };
}

export function adapterName(a: AdapterInfoLike & { software: boolean }): string {
  const name = a.description || [a.vendor, a.architecture, a.device].filter(Boolean).join(' ') || 'unnamed adapter';
  return a.software ? `${name} (software)` : name;
}

/** Probes one mode. The webgpu probe loads Dawn (when navigator.gpu is absent) and acquires gpu.js's device. */
export async function probeMode(mode: GpujsMode): Promise<ModeProbe> {
  try {
    switch (mode) {
      case 'webgpu': {
        const gpu = await ensureNavigatorGpu();
        const { mod } = await loadGpuJs();
        const adapter = await gpu.requestAdapter();
        if (!adapter) return { mode, available: false, detail: 'no WebGPU adapter answered (navigator.gpu.requestAdapter() gave null)' };
        const context = await mod.WebGPUContext.acquire();
        const info = describeAdapter(adapter.info, adapter.isFallbackAdapter);
        return { mode, available: true, detail: adapterName(info), context, adapter: info };
      }
      case 'headlessgl': {
        const { mod } = await loadGpuJs();
        if (mod.GPU.isHeadlessGLSupported) return { mode, available: true, detail: 'headless-gl context' };
        const why = await tryRequireBesideGpuJs('gl');
        return { mode, available: false, detail: `the native 'gl' addon does not load${why ? ` (${why})` : ' (no context could be created)'}` };
      }
      case 'webasm': {
        const { mod } = await loadGpuJs();
        if (!mod.GPU.isWebAssemblySupported) return { mode, available: false, detail: 'WebAssembly is not available' };
        return { mode, available: true, detail: webasmDetail(mod) };
      }
      case 'cpu':
        await loadGpuJs();
        return { mode, available: true, detail: 'JavaScript' };
    }
  } catch (e) {
    return { mode, available: false, detail: (e as Error).message.split('\n')[0]! };
  }
}

function webasmDetail(mod: GpuJsModule): string {
  const k = mod.WebAssemblyKernel;
  if (!k) return 'WebAssembly';
  return `WebAssembly${k.isSIMDSupported ? ' SIMD' : ''}${k.isThreadsSupported ? ', worker threads' : ', single thread'}`;
}

export interface ModeChoice {
  probe: ModeProbe;
  /** The one-line account of the choice: what was picked and why the preferred modes were not. */
  report: string;
}

/**
 * Picks the mode: `forced` must be available (else throws with the reason); without it the first
 * available mode in preference order.
 */
export async function chooseMode(forced?: GpujsMode): Promise<ModeChoice> {
  if (forced) {
    const probe = await probeMode(forced);
    if (!probe.available) throw new Error(`gpujs: mode '${forced}' is unavailable: ${probe.detail}`);
    return { probe, report: `mode '${forced}' (requested): ${probe.detail}` };
  }
  const skipped: string[] = [];
  // A software WebGPU adapter (lavapipe, SwiftShader) is a CPU in disguise: gpu.js's WebAssembly mode
  // was faster than it in every measurement here (NOTES.md), so it ranks after 'webasm'.
  let software: ModeProbe | null = null;
  const pick = (probe: ModeProbe) => {
    const why = skipped.length ? `; skipped ${skipped.join('; ')}` : '';
    return { probe, report: `mode '${probe.mode}' (auto): ${probe.detail}${why}` };
  };
  for (const mode of GPUJS_MODES) {
    if (mode === 'cpu' && software) return pick(software);
    const probe = await probeMode(mode);
    if (probe.available && probe.adapter?.software) {
      software = probe;
      skipped.push(`webgpu: ${probe.detail} is a software adapter (ranked after webasm)`);
      continue;
    }
    if (probe.available) return pick(probe);
    skipped.push(`${mode}: ${probe.detail}`);
  }
  throw new Error(`gpujs: no gpu.js mode is available (${skipped.join('; ')})`);
}

/** Which modes can start here (for benchmarks and tests), each probed. */
export async function availableModes(): Promise<ModeProbe[]> {
  const out: ModeProbe[] = [];
  for (const mode of GPUJS_MODES) out.push(await probeMode(mode));
  return out;
}
