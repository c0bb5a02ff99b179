// Backend selection. Backends register a factory when their package is imported; core never imports a
// backend. `useBackend()` picks one by name, or the best registered one, and says in one line which it
// picked and why (`formatBackendLine`); the full description and every fallback's whole message are
// printed with `verbose`.
import type { Backend } from './backend.js';
import { isSoftwareAdapter } from './adapters.js';

export interface BackendFactory {
  /** Name or name prefix this factory answers ('webgpu', 'gpujs' for 'gpujs:webasm', ...). */
  name: string;
  /** Higher is preferred when no name is given. */
  priority: number;
  /**
   * The variants it accepts after ':' ('f64' for 'cpu:f64'), when it can list them: names are then checked
   * before `create` is called, and `backendNames()` lists them. Without it, `create` checks the variant.
   */
  variants?: readonly string[];
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

const byPriority = () => [...factories].sort((a, b) => b.priority - a.priority);

/** Registered factory names, the most preferred first ('webgpu', 'gpujs', 'cpu'). */
export function registeredBackends(): string[] {
  return byPriority().map((f) => f.name);
}

/**
 * Every name `useBackend` accepts, as far as the factories list their variants: 'best', then each factory's
 * name and its `name:variant`s, the most preferred first. A backend's own `name` is always among them.
 */
export function backendNames(): string[] {
  return ['best', ...byPriority().flatMap((f) => [f.name, ...(f.variants ?? []).map((v) => `${f.name}:${v}`)])];
}

/** A backend name `useBackend` cannot accept; `names` lists those it can. */
export class UnknownBackendError extends Error {
  constructor(readonly requested: string, readonly names: string[], detail: string) {
    super(detail);
    this.name = 'UnknownBackendError';
  }
}

/** Throws UnknownBackendError when `name` is not one `useBackend` accepts (undefined and 'best' are). */
export function checkBackendName(name: string | undefined): void {
  if (!name || name === 'best') return;
  const [base, variant] = splitName(name);
  const f = factories.find((x) => x.name === base);
  const names = backendNames();
  if (!f) {
    throw new UnknownBackendError(name, names,
      `backend '${name}' is not registered (registered: ${names.slice(1).join(', ') || 'none'}); import its package first`);
  }
  if (variant !== undefined && f.variants && !f.variants.includes(variant)) {
    throw new UnknownBackendError(name, names,
      `backend '${name}': unknown variant '${variant}' (use ${[f.name, ...f.variants.map((v) => `${f.name}:${v}`)].join(', ')})`);
  }
}

function splitName(name: string): [string, string | undefined] {
  const i = name.indexOf(':');
  return i < 0 ? [name, undefined] : [name.slice(0, i), name.slice(i + 1)];
}

export interface UseBackendOptions {
  /** Called with the line naming the choice, and with the details under `verbose` (default console.log). */
  log?: (line: string) => void;
  /** Also log the backend's whole description and each fallback's whole message, one line each. */
  verbose?: boolean;
}

/** A backend that was tried and did not start (or stepped aside), with its whole message. */
export interface BackendFallback {
  name: string;
  message: string;
}

/**
 * Makes a backend current. With a name ('cpu', 'webgpu', 'gpujs:webasm') that backend must work; with
 * none (or 'best'), registered backends are tried from the most to the least preferred and the first
 * that starts is used. Logs one line: `backend: NAME (DETAIL) — WHY`, WHY being 'as requested', 'best
 * available', or each fallback's reason in one clause (see `formatBackendLine`).
 */
export async function useBackend(name?: string, opts: UseBackendOptions = {}): Promise<Backend> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const report = (backend: Backend, fallbacks: BackendFallback[], requested: boolean) => {
    log(formatBackendLine(backend, fallbacks, requested));
    if (opts.verbose) {
      log(`  ${backend.name}: ${backend.description}`);
      for (const f of fallbacks) log(`  ${f.name} skipped: ${f.message}`);
    }
  };
  if (name && name !== 'best') {
    checkBackendName(name);
    const [base, variant] = splitName(name);
    const f = factories.find((x) => x.name === base)!;
    setBackend(await f.create(variant, { explicit: true }));
    report(current!, [], true);
    return current!;
  }
  const fallbacks: BackendFallback[] = [];
  for (const f of byPriority()) {
    try {
      setBackend(await f.create(undefined, { explicit: false }));
      report(current!, fallbacks, false);
      return current!;
    } catch (e) {
      fallbacks.push({ name: f.name, message: (e as Error).message });
    }
  }
  throw new Error(`no backend could start: ${fallbacks.map((f) => `${f.name}: ${f.message}`).join('; ') || 'none registered'}`);
}

/**
 * The one line that names a backend and why it was chosen, e.g.
 * `backend: webgpu (nvidia-h200) — best available` (an H200 through Dawn/Vulkan),
 * `backend: gpujs:webasm (WebAssembly SIMD, worker threads) — webgpu skipped: software adapter (llvmpipe)`.
 */
export function formatBackendLine(backend: Backend, fallbacks: BackendFallback[] = [], requested = false): string {
  const detail = backendSummary(backend);
  const why = requested ? 'as requested'
    : fallbacks.length ? fallbacks.map((f) => `${f.name} skipped: ${shortReason(f.message, f.name)}`).join('; ')
      : 'best available';
  return `backend: ${backend.name}${detail ? ` (${detail})` : ''} — ${why}`;
}

const MAX_CLAUSE = 60;
const clip = (s: string) => (s.length > MAX_CLAUSE ? `${s.slice(0, MAX_CLAUSE - 1).trimEnd()}…` : s);

/**
 * A backend's description in a few words: its first clause (up to ';'), with a leading 'label: ' dropped
 * (the name says it) and an adapter string ('vendor / architecture / device / description') reduced to
 * the device's name. A backend may give its own as a `summary` string property.
 */
export function backendSummary(backend: Backend): string {
  const own = (backend as Backend & { summary?: unknown }).summary;
  if (typeof own === 'string') return own;
  const first = backend.description.split('; ')[0]!.trim();
  if (first.includes(' / ')) {
    return clip(shortAdapterName(first)) + (isSoftwareAdapter({ text: first }) ? ', software adapter' : '');
  }
  const m = /^[^,:]*: (.+)$/.exec(first);
  return clip(m ? m[1]! : first);
}

/**
 * An adapter's name from a 'vendor / architecture / device / description' string: the description's
 * leading word ('llvmpipe' from 'llvmpipe: Mesa 25.0.7 ...') unless it merely repeats the vendor, else the
 * longest of the middle parts ('nvidia-h100-80gb-hbm3').
 */
export function shortAdapterName(text: string): string {
  const parts = text.split(' / ').map((p) => p.trim()).filter(Boolean);
  if (parts.length < 2) return text.trim();
  const vendor = parts[0]!.toLowerCase();
  const lead = parts[parts.length - 1]!.split(':')[0]!.trim();
  if (lead && lead.toLowerCase() !== vendor && !/\s/.test(lead)) return lead;
  const middle = parts.slice(1, -1).filter((p) => p.toLowerCase() !== 'software');
  return middle.length ? middle.reduce((a, b) => (b.length > a.length ? b : a)) : lead || parts[0]!;
}

/**
 * A fallback's reason in one clause: the factory's 'name: ' prefix dropped, a software adapter named as
 * 'software adapter (llvmpipe)', anything else cut at its first sentence, semicolon, colon or parenthesis.
 */
export function shortReason(message: string, name = ''): string {
  let m = message.split('\n')[0]!.trim();
  if (name && m.startsWith(`${name}: `)) m = m.slice(name.length + 2);
  if (/software adapter/i.test(m)) {
    // The adapter string is the first parenthesised group (which may itself hold one level of parentheses).
    const group = /\(((?:[^()]|\([^()]*\))*)\)/.exec(m)?.[1];
    const driver = /llvmpipe|lavapipe|swiftshader|warp/i.exec(m)?.[0];
    const which = group && group.includes(' / ') ? shortAdapterName(group) : driver;
    return `software adapter${which ? ` (${which})` : ''}`;
  }
  const cut = m.search(/\. |; |: | \(/);
  return clip(cut > 0 ? m.slice(0, cut) : m.replace(/\.$/, ''));
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
