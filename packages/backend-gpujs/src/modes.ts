// gpu.js mode detection. Preference: 'webgpu' when a hardware adapter answers, 'headlessgl' when the
// native `gl` addon loads, 'webgl2' in a browser whose WebGL2 renders on a GPU, else 'webasm'
// (WebAssembly, SIMD, worker threads), else the first of 'webgpu' and 'webgl2' on a software renderer,
// else 'cpu' (gpu.js's JavaScript). Any available mode can be forced ('gpujs:webgpu' runs on lavapipe too).
import { isSoftwareAdapter } from '@cce/core';
import type { AdapterInfoLike, GpuJsModule, WebGpuContextLike } from './gpujs-types.js';
import { ensureNavigatorGpu, loadGpuJs, tryRequireBesideGpuJs } from './load.js';

export type GpujsMode = 'webgpu' | 'headlessgl' | 'webgl2' | 'webasm' | 'cpu';
export const GPUJS_MODES: readonly GpujsMode[] = ['webgpu', 'headlessgl', 'webgl2', 'webasm', 'cpu'];

export function isGpujsMode(s: string): s is GpujsMode {
  return (GPUJS_MODES as readonly string[]).includes(s);
}

export interface ModeProbe {
  mode: GpujsMode;
  available: boolean;
  /** What was found (adapter, threads) or why the mode is unavailable. */
  detail: string;
  /** 'webgpu' only: the shared device gpu.js uses. */
  context?: WebGpuContextLike;
  /** 'webgpu' and 'webgl2': the adapter or renderer, and whether it is software. */
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
        if (typeof process === 'undefined' || !process.versions?.node) return { mode, available: false, detail: "headless-gl is Node's native 'gl' addon" };
        const { mod } = await loadGpuJs();
        if (mod.GPU.isHeadlessGLSupported) return { mode, available: true, detail: 'headless-gl context' };
        const why = await tryRequireBesideGpuJs('gl');
        return { mode, available: false, detail: `the native 'gl' addon does not load${why ? ` (${why})` : ' (no context could be created)'}` };
      }
      case 'webgl2': {
        const { mod } = await loadGpuJs();
        const renderer = webgl2Renderer();
        if (renderer === null || !(mod.GPU as { isWebGL2Supported?: boolean }).isWebGL2Supported) {
          return { mode, available: false, detail: 'no WebGL2 context (it needs a browser: a page, or a worker with OffscreenCanvas)' };
        }
        const adapter = { description: `WebGL2: ${renderer}`, software: isSoftwareAdapter({ text: renderer }) };
        return { mode, available: true, detail: adapterName(adapter), adapter };
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

/** The WebGL2 renderer's name (unmasked where the browser tells it), or null without a WebGL2 context. */
function webgl2Renderer(): string | null {
  type Gl = { getParameter(p: number): unknown; getExtension(name: string): { UNMASKED_RENDERER_WEBGL: number } | null };
  type Canvas = { getContext(kind: 'webgl2'): Gl | null };
  const g = globalThis as { OffscreenCanvas?: new (w: number, h: number) => Canvas; document?: { createElement(tag: 'canvas'): Canvas } };
  const canvas = g.OffscreenCanvas ? new g.OffscreenCanvas(1, 1) : g.document?.createElement('canvas');
  const gl = canvas?.getContext('webgl2');
  if (!gl) return null;
  const RENDERER = 0x1f01;
  const debug = gl.getExtension('WEBGL_debug_renderer_info');
  return String(gl.getParameter(debug ? debug.UNMASKED_RENDERER_WEBGL : RENDERER) || 'unnamed renderer');
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
  // A software WebGPU adapter (lavapipe, SwiftShader) or WebGL2 renderer is a CPU in disguise: gpu.js's
  // WebAssembly mode was faster than a software adapter in every measurement here (NOTES.md), so they rank
  // after 'webasm'.
  let software: ModeProbe | null = null;
  const pick = (probe: ModeProbe) => {
    const why = skipped.length ? `; skipped ${skipped.join('; ')}` : '';
    return { probe, report: `mode '${probe.mode}' (auto): ${probe.detail}${why}` };
  };
  for (const mode of GPUJS_MODES) {
    if (mode === 'cpu' && software) return pick(software);
    const probe = await probeMode(mode);
    if (probe.available && probe.adapter?.software) {
      software ??= probe;
      skipped.push(`${mode}: ${probe.detail} is a software adapter (ranked after webasm)`);
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
