// Backend selection. Backends register a factory when their package is imported; core never imports a
// backend. `useBackend()` picks one by name, or the best registered one, and says which it picked.
import type { Backend } from './backend.js';

export interface BackendFactory {
  /** Name or name prefix this factory answers ('webgpu', 'gpujs' for 'gpujs:webasm', ...). */
  name: string;
  /** Higher is preferred when no name is given. */
  priority: number;
  /**
   * Creates the backend, or throws an Error that says what is missing. `variant` is the part after ':';
   * `explicit` is false when the registry is trying backends in order of preference (a backend may then
   * decline a poor device, such as a software GPU, in favour of the next one).
   */
  create(variant?: string, opts?: { explicit: boolean }): Promise<Backend>;
}

const factories: BackendFactory[] = [];
let current: Backend | null = null;

export function registerBackend(factory: BackendFactory): void {
  const i = factories.findIndex((f) => f.name === factory.name);
  if (i >= 0) factories.splice(i, 1);
  factories.push(factory);
}

export function registeredBackends(): string[] {
  return [...factories].sort((a, b) => b.priority - a.priority).map((f) => f.name);
}

export interface UseBackendOptions {
  /** Called with the choice and with each fallback (defaults to console.log / console.warn). */
  log?: (line: string) => void;
}

/**
 * Makes a backend current. With a name ('cpu', 'webgpu', 'gpujs:webasm') that backend must work; with
 * none (or 'best'), registered backends are tried from the most to the least preferred and the first
 * that starts is used, each failure reported.
 */
export async function useBackend(name?: string, opts: UseBackendOptions = {}): Promise<Backend> {
  const log = opts.log ?? ((l: string) => console.log(l));
  if (name && name !== 'best') {
    const [base, variant] = name.split(':') as [string, string | undefined];
    const f = factories.find((x) => x.name === base);
    if (!f) {
      throw new Error(`backend '${name}' is not registered (registered: ${registeredBackends().join(', ') || 'none'}); import its package first`);
    }
    setBackend(await f.create(variant, { explicit: true }));
    log(`backend: ${current!.name} (${current!.description})`);
    return current!;
  }
  const errors: string[] = [];
  for (const f of [...factories].sort((a, b) => b.priority - a.priority)) {
    try {
      setBackend(await f.create(undefined, { explicit: false }));
      const fallback = errors.length ? ` after falling back: ${errors.join('; ')}` : '';
      log(`backend: ${current!.name} (${current!.description})${fallback}`);
      return current!;
    } catch (e) {
      errors.push(`${f.name} unavailable: ${(e as Error).message}`);
    }
  }
  throw new Error(`no backend could start: ${errors.join('; ') || 'none registered'}`);
}

/** Makes `backend` current (null clears the choice). */
export function setBackend(backend: Backend | null): void {
  current = backend;
}

export function getBackendOrNull(): Backend | null {
  return current;
}

/** The current backend; throws if none was chosen. */
export function getBackend(): Backend {
  if (!current) throw new Error('no backend selected: call useBackend() (or setBackend()) first');
  return current;
}
