// Loading gpu.js and Dawn's `webgpu` package. Both are resolved at run time: test and script bundles
// (.test-build/, dist/) keep them external and live outside this package, so a plain import finds them
// only where a node_modules above the bundle holds them; otherwise they are resolved from this package's
// folder in the workspace, or from CCE_GPUJS_FROM (a folder whose node_modules holds them).
// gpu.js is imported with a literal specifier so that a bundler that is told to include it can.
import type { GpuJsModule, GpuLike } from './gpujs-types.js';

let gpujs: Promise<{ mod: GpuJsModule; path: string | null }> | null = null;

async function nodeHelpers() {
  const moduleName = 'node:module';
  const urlName = 'node:url';
  const { createRequire } = (await import(/* @vite-ignore */ moduleName)) as typeof import('node:module');
  const { pathToFileURL } = (await import(/* @vite-ignore */ urlName)) as typeof import('node:url');
  return { createRequire, pathToFileURL };
}

function searchBases(): string[] {
  const cwd = typeof process !== 'undefined' ? process.cwd() : '.';
  const env = typeof process !== 'undefined' ? process.env.CCE_GPUJS_FROM : undefined;
  return [env, `${cwd}/packages/backend-gpujs/`, `${cwd}/`].filter((b): b is string => !!b).map((b) => (b.endsWith('/') ? b : `${b}/`));
}

/** Resolves `name` from the search folders: its path, or the errors met. */
async function resolveFromBases(name: string): Promise<{ path: string } | { errors: string[] }> {
  const { createRequire } = await nodeHelpers();
  const errors: string[] = [];
  for (const base of searchBases()) {
    try {
      return { path: createRequire(base).resolve(name) };
    } catch (e) {
      errors.push(`${base}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return { errors };
}

function unwrap<T>(mod: unknown): T {
  const m = mod as { default?: unknown; GPU?: unknown };
  return (m.GPU ? m : m.default ?? m) as T;
}

/** gpu.js's exports (loaded once). */
export function loadGpuJs(): Promise<{ mod: GpuJsModule; path: string | null }> {
  gpujs ??= (async () => {
    const errors: string[] = [];
    try {
      return { mod: unwrap<GpuJsModule>(await import('gpu.js')), path: null };
    } catch (e) {
      errors.push((e as Error).message.split('\n')[0]!);
    }
    const found = await resolveFromBases('gpu.js');
    if ('path' in found) {
      const { createRequire } = await nodeHelpers();
      return { mod: unwrap<GpuJsModule>(createRequire(found.path)(found.path)), path: found.path };
    }
    throw new Error(`gpujs: cannot load the npm package 'gpu.js': ${[...errors, ...found.errors].join('; ')}. ` +
      `Install it (pnpm install), or set CCE_GPUJS_FROM to a folder whose node_modules holds it`);
  })();
  const p = gpujs;
  p.catch(() => {
    if (gpujs === p) gpujs = null;
  });
  return p;
}

/**
 * Loads a module that gpu.js itself may require (its optional `gl` addon), resolved from gpu.js's own
 * folder: returns the error message when it does not load.
 */
export async function tryRequireBesideGpuJs(name: string): Promise<string | null> {
  const { path } = await loadGpuJs();
  const { createRequire } = await nodeHelpers();
  const bases: string[] = [];
  if (path) bases.push(path);
  try {
    bases.push(createRequire(`${process.cwd()}/`).resolve('gpu.js'));
  } catch {
    // gpu.js is bundled: its require() resolves from the bundle's folder, or the working directory
  }
  bases.push(`${process.cwd()}/`);
  let first: string | null = null;
  for (const base of bases) {
    try {
      createRequire(base)(name);
      return null;
    } catch (e) {
      first ??= (e as Error).message.split('\n')[0]!.replace(/\. Tried:$|Tried:$/, '').trim();
    }
  }
  return first;
}

interface DawnModule {
  create(options: string[]): GpuLike;
  globals: Record<string, unknown>;
}

let dawn: Promise<GpuLike> | null = null;

/**
 * Makes `navigator.gpu` exist (gpu.js's 'webgpu' mode reads it): the existing one where a browser or
 * another package already provides it, else Dawn's from the npm `webgpu` package (created with no
 * options), together with Dawn's WebGPU globals that are missing. Throws with the reason when neither
 * is possible.
 */
export function ensureNavigatorGpu(): Promise<GpuLike> {
  dawn ??= (async () => {
    const nav = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator;
    if (nav?.gpu) return nav.gpu;
    const name = 'webgpu';
    const errors: string[] = [];
    let mod: DawnModule | null = null;
    try {
      mod = (await import(/* @vite-ignore */ name)) as DawnModule;
    } catch (e) {
      errors.push((e as Error).message.split('\n')[0]!);
    }
    if (!mod) {
      const found = await resolveFromBases(name);
      if ('errors' in found) {
        throw new Error(`the npm package 'webgpu' (Dawn) does not load: ${[...errors, ...found.errors].join('; ')}`);
      }
      const { pathToFileURL } = await nodeHelpers();
      mod = (await import(/* @vite-ignore */ pathToFileURL(found.path).href)) as DawnModule;
    }
    const gpu = mod.create([]);
    // Where navigator.gpu exists, a browser also has the WebGPU globals (GPUBufferUsage, GPUMapMode, ...);
    // other code that finds navigator.gpu relies on them, so provide the missing ones.
    for (const [key, value] of Object.entries(mod.globals ?? {})) {
      if (!(key in globalThis)) Object.defineProperty(globalThis, key, { value, configurable: true, writable: true });
    }
    // Keep whatever navigator already holds (Node 21+ has one with hardwareConcurrency).
    const next: { gpu: GpuLike; hardwareConcurrency?: number } = { gpu };
    try {
      const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
      if (cores) next.hardwareConcurrency = cores;
    } catch {
      // a navigator whose getters refuse to be read: gpu.js falls back to os.cpus()
    }
    Object.defineProperty(globalThis, 'navigator', { value: next, configurable: true, writable: true });
    return gpu;
  })();
  const p = dawn;
  p.catch(() => {
    if (dawn === p) dawn = null;
  });
  return p;
}
