// Device acquisition: `navigator.gpu` in a browser, Dawn's Node binding (npm `webgpu`) in Node. The device
// is requested with the adapter's own limits (WebGPU's defaults are far smaller: 128 MiB per binding,
// 16 KiB of workgroup memory, 256 invocations per workgroup) and the optional features we can use.
// In Node, Dawn is created with the toggles that expose f16 and subgroup matrices where a GPU has them
// (FEATURE_TOGGLES); a browser decides for itself.
import type { SubgroupMatrixConfig } from '@cce/core';
import type { create as dawnCreate } from 'webgpu'; // types only (it also brings in @webgpu/types)

export const SUBGROUP_MATRIX = 'chromium-experimental-subgroup-matrix';

/** Optional features requested when the adapter offers them. */
export const USEFUL_FEATURES = ['subgroups', 'timestamp-query', 'shader-f16', SUBGROUP_MATRIX] as const;

/**
 * Dawn toggles (Node only) and the feature each exposes: Dawn hides shader-f16 on NVIDIA's Vulkan driver
 * unless vulkan_enable_f16_on_nvidia is on (a no-op elsewhere), and offers its experimental subgroup
 * matrices (tensor cores) only with allow_unsafe_apis, which also admits Dawn's other unsafe APIs (we use
 * none; the test suites run the same with it). Each is left out when its feature is disabled.
 */
export const FEATURE_TOGGLES: Record<string, string> = {
  'shader-f16': 'vulkan_enable_f16_on_nvidia',
  [SUBGROUP_MATRIX]: 'allow_unsafe_apis',
};

export interface DeviceOptions {
  powerPreference?: GPUPowerPreference;
  /** Extra Dawn options for `create([...])` in Node, e.g. 'enable-dawn-features=allow_unsafe_apis'. */
  dawnOptions?: string[];
  /**
   * Features to leave off even when offered (tests use this to run without subgroups, shader-f16 or
   * subgroup matrices); a disabled feature's Dawn toggle is not passed either. Subgroup matrices need
   * subgroups: disabling 'subgroups' disables them too.
   */
  disableFeatures?: string[];
}

export interface AdapterReport {
  /** vendor / architecture / device / description, as far as the adapter tells. */
  name: string;
  vendor: string;
  architecture: string;
  isFallbackAdapter: boolean;
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
  /** The limits the device was created with (the adapter's own). */
  limits: Record<string, number>;
  /** Features the adapter offers / the device was created with. */
  adapterFeatures: string[];
  features: string[];
  /** The Dawn toggles the instance was created with (Node), e.g. 'enable-dawn-features=allow_unsafe_apis'. */
  dawnOptions: string[];
  /**
   * The subgroup-matrix products the device runs (M x N x K, component -> result; f16 and f32 ones,
   * which the IR has), when it was created with chromium-experimental-subgroup-matrix; else none.
   */
  subgroupMatrixConfigs: SubgroupMatrixConfig[];
}

export interface AcquiredDevice {
  device: GPUDevice;
  adapter: GPUAdapter;
  report: AdapterReport;
}

const INSTALL_HINT =
  'WebGPU needs a driver: on Linux a Vulkan driver (for a machine without a GPU, Mesa\'s software driver lavapipe >= 24: ' +
  'run scripts/setup-software-gpu.sh, or `apt-get install mesa-vulkan-drivers libvulkan1`, from bookworm-backports on Debian 12), ' +
  'Metal on macOS, D3D12 on Windows; in a browser, a WebGPU-enabled one (Chromium: --enable-unsafe-webgpu)';

let nodeGpu: GPU | null = null;
let nodeGpuKey = '';

interface DawnModule {
  create: typeof dawnCreate;
  globals: object;
}

/** Loads the `webgpu` package. Bundles resolve it from the bundle's folder; a workspace run also from here. */
async function loadDawn(): Promise<DawnModule> {
  const name = 'webgpu';
  const errors: string[] = [];
  try {
    return (await import(/* @vite-ignore */ name)) as DawnModule;
  } catch (e) {
    errors.push((e as Error).message);
  }
  // A bundle outside the workspace package (dist/, .test-build/) cannot see packages/backend-webgpu's
  // node_modules; resolve from there relative to the working directory.
  const nodeModule = 'node:module';
  const nodeUrl = 'node:url';
  const { createRequire } = (await import(/* @vite-ignore */ nodeModule)) as typeof import('node:module');
  const { pathToFileURL } = (await import(/* @vite-ignore */ nodeUrl)) as typeof import('node:url');
  const bases = [process.env.CCE_WEBGPU_FROM, `${process.cwd()}/packages/backend-webgpu/`, `${process.cwd()}/`].filter(Boolean) as string[];
  for (const base of bases) {
    try {
      const path = createRequire(base.endsWith('/') ? base : `${base}/`).resolve(name);
      return (await import(/* @vite-ignore */ pathToFileURL(path).href)) as DawnModule;
    } catch (e) {
      errors.push(`${base}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(`webgpu: cannot load the npm package 'webgpu' (Dawn's Node binding): ${errors.join('; ')}. ` +
    `Install it (pnpm add webgpu@0.6.2 in packages/backend-webgpu), or set CCE_WEBGPU_FROM to a folder whose node_modules holds it`);
}

/**
 * The Dawn options for `create([...])`: ours (timestamps unquantised, the features' toggles), then the
 * caller's. Dawn keeps one value per option name, so the caller's enable/disable-dawn-features lists
 * are merged into ours rather than replacing them.
 */
export function dawnOptionsFor(opts: DeviceOptions): string[] {
  const off = new Set(opts.disableFeatures ?? []);
  if (off.has('subgroups')) off.add(SUBGROUP_MATRIX);
  const lists: Record<string, string[]> = {
    'disable-dawn-features': ['timestamp_quantization'],
    'enable-dawn-features': Object.entries(FEATURE_TOGGLES).filter(([feature]) => !off.has(feature)).map(([, toggle]) => toggle),
  };
  const rest: string[] = [];
  for (const option of opts.dawnOptions ?? []) {
    const [name, value] = [option.slice(0, option.indexOf('=')), option.slice(option.indexOf('=') + 1)];
    if (name in lists) lists[name]!.push(...value.split(',').filter((t) => t && !lists[name]!.includes(t)));
    else rest.push(option);
  }
  return [...Object.entries(lists).filter(([, l]) => l.length).map(([name, l]) => `${name}=${l.join(',')}`), ...rest];
}

/**
 * The GPU object: in Node, Dawn's, created with our toggles (a navigator.gpu there was put in place by
 * someone else, gpu.js for one, without them: no shader-f16 on NVIDIA); in a browser, navigator.gpu.
 */
async function getGpu(opts: DeviceOptions): Promise<{ gpu: GPU; where: string; options: string[] }> {
  if (typeof process === 'undefined' || !process.versions?.node) {
    const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
    if (nav?.gpu) return { gpu: nav.gpu, where: 'navigator.gpu', options: [] };
    throw new Error(`webgpu: navigator.gpu is not available in this browser. ${INSTALL_HINT}`);
  }
  const options = dawnOptionsFor(opts);
  const key = options.join('|');
  if (!nodeGpu || nodeGpuKey !== key) {
    const dawn = await loadDawn();
    Object.assign(globalThis, dawn.globals);
    nodeGpu = dawn.create(options);
    nodeGpuKey = key;
  }
  return { gpu: nodeGpu, where: "Dawn (npm 'webgpu')", options };
}

/** The features to request: the useful ones the adapter offers and the caller left on. */
function wantedFeatures(adapter: GPUAdapter, opts: DeviceOptions): string[] {
  const off = new Set(opts.disableFeatures ?? []);
  const has = (f: string) => adapter.features.has(f) && !off.has(f);
  // Subgroup matrices need subgroups (Dawn refuses the one without the other).
  return USEFUL_FEATURES.filter((f) => has(f) && (f !== SUBGROUP_MATRIX || has('subgroups')));
}

/**
 * The adapter's subgroup-matrix configurations of f16 and f32, when the device has the feature; f16 ones
 * only with shader-f16 (Dawn filters them out of the device without it, as its design notes say).
 */
function matrixConfigs(info: GPUAdapterInfo, device: GPUDevice): SubgroupMatrixConfig[] {
  if (!device.features.has(SUBGROUP_MATRIX)) return [];
  type Raw = { M: number; N: number; K: number; componentType: string; resultComponentType: string };
  const raw = ((info as unknown as { subgroupMatrixConfigs?: Raw[] }).subgroupMatrixConfigs ?? []);
  const ok = (t: string): t is 'f16' | 'f32' => t === 'f32' || (t === 'f16' && device.features.has('shader-f16'));
  return [...raw].flatMap((c) => (ok(c.componentType) && ok(c.resultComponentType)
    ? [{ M: c.M, N: c.N, K: c.K, component: c.componentType, result: c.resultComponentType }]
    : []));
}

function limitsOf(source: GPUSupportedLimits): Record<string, number> {
  const out: Record<string, number> = {};
  // GPUSupportedLimits exposes its values as prototype getters.
  for (const key in source) {
    const v = (source as unknown as Record<string, unknown>)[key];
    if (typeof v === 'number') out[key] = v;
  }
  return out;
}

const ESSENTIAL_LIMITS = [
  'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY', 'maxComputeWorkgroupSizeZ', 'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage', 'minUniformBufferOffsetAlignment', 'minStorageBufferOffsetAlignment',
];

/** Finds an adapter and creates a device with the adapter's limits and the useful features it offers. */
export async function acquireDevice(opts: DeviceOptions = {}): Promise<AcquiredDevice> {
  const { gpu, where, options } = await getGpu(opts);
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  } catch (e) {
    throw new Error(`webgpu: no WebGPU adapter found through ${where} (requestAdapter failed: ${(e as Error).message.trim()}). ${INSTALL_HINT}`);
  }
  if (!adapter) throw new Error(`webgpu: no WebGPU adapter found through ${where}. ${INSTALL_HINT}`);
  const adapterFeatures = [...adapter.features].map(String).sort();
  const wanted = wantedFeatures(adapter, opts);
  const adapterLimits = limitsOf(adapter.limits);
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredFeatures: wanted as GPUFeatureName[], requiredLimits: adapterLimits });
  } catch {
    // Some implementations refuse limits they list but do not know; ask for the ones we use.
    const essential = Object.fromEntries(ESSENTIAL_LIMITS.filter((k) => k in adapterLimits).map((k) => [k, adapterLimits[k]!]));
    try {
      device = await adapter.requestDevice({ requiredFeatures: wanted as GPUFeatureName[], requiredLimits: essential });
    } catch (e) {
      throw new Error(`webgpu: the adapter refused a device with features [${wanted.join(', ')}] and its own limits: ${(e as Error).message}`);
    }
  }
  const info = adapter.info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number; isFallbackAdapter?: boolean };
  const parts = [info.vendor, info.architecture, info.device, info.description].filter((s) => s && s.length);
  const report: AdapterReport = {
    name: parts.length ? [...new Set(parts)].join(' / ') : 'unnamed adapter',
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    isFallbackAdapter: Boolean(info.isFallbackAdapter),
    ...(info.subgroupMinSize ? { subgroupMinSize: info.subgroupMinSize, subgroupMaxSize: info.subgroupMaxSize } : {}),
    limits: limitsOf(device.limits),
    adapterFeatures,
    features: [...device.features].map(String).sort(),
    dawnOptions: options,
    subgroupMatrixConfigs: matrixConfigs(info, device),
  };
  return { device, adapter, report };
}
