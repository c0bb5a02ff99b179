// Kernel variants of an op. Every op has a portable map variant; tuned variants (workgroup memory,
// barriers, vectors, subgroups) register here with the condition under which they can run. An op asks
// for the best variant its backend and problem allow: by priority, except that a backend whose
// capabilities say `prefersMapKernels` (the interpreter, where tiling only costs) tries the variants not
// marked `tuned` first. Tests force each variant in turn, on every backend that can run it.
import type { Backend } from '../backend.js';

export interface Variant<P> {
  name: string;
  /** Higher runs first when supported; the map variant has priority 0. */
  priority: number;
  /**
   * Built for GPU parallelism (workgroup tiles, barriers, subgroups): a backend that `prefersMapKernels`
   * chooses it only when no untuned variant is supported (or when it is forced).
   */
  tuned?: boolean;
  /** Whether this backend (capabilities, limits) and problem can use the variant. */
  supports(backend: Backend, problem: P): boolean;
  run(backend: Backend, problem: P): void;
}

const registry = new Map<string, Variant<unknown>[]>();
const forced = new Map<string, string>();

export function registerVariant<P>(op: string, variant: Variant<P>): void {
  const list = registry.get(op) ?? [];
  const i = list.findIndex((v) => v.name === variant.name);
  if (i >= 0) list.splice(i, 1);
  list.push(variant as Variant<unknown>);
  list.sort((a, b) => b.priority - a.priority);
  registry.set(op, list);
}

export function variantsOf(op: string): string[] {
  return (registry.get(op) ?? []).map((v) => v.name);
}

/** The variants of `op` in the order `backend` prefers them (see the file comment). */
function preferred<P>(op: string, backend: Backend): Variant<P>[] {
  const list = (registry.get(op) ?? []) as Variant<P>[];
  if (!backend.capabilities.prefersMapKernels) return list;
  return [...list.filter((v) => !v.tuned), ...list.filter((v) => v.tuned)];
}

/** Names the variants of `op` that `backend` could run for `problem`, the one it would choose first. */
export function supportedVariants<P>(op: string, backend: Backend, problem: P): string[] {
  return preferred<P>(op, backend).filter((v) => v.supports(backend, problem)).map((v) => v.name);
}

/** Runs `fn` with `op` forced to the variant `name` (it must be supported where used). */
export async function withVariant<T>(op: string, name: string, fn: () => T | Promise<T>): Promise<T> {
  if (!variantsOf(op).includes(name)) throw new Error(`no variant '${name}' of '${op}' (have: ${variantsOf(op).join(', ')})`);
  const prev = forced.get(op);
  forced.set(op, name);
  try {
    return await fn();
  } finally {
    if (prev === undefined) forced.delete(op);
    else forced.set(op, prev);
  }
}

/** Runs the best supported variant of `op` (or the forced one). */
export function runVariant<P>(op: string, backend: Backend, problem: P): string {
  const list = preferred<P>(op, backend);
  const want = forced.get(op);
  const v = want ? list.find((x) => x.name === want) : list.find((x) => x.supports(backend, problem));
  if (!v) throw new Error(`${op}: no variant runs on backend '${backend.name}' for this problem`);
  if (want && !v.supports(backend, problem)) throw new Error(`${op}: forced variant '${want}' cannot run on backend '${backend.name}' for this problem`);
  v.run(backend, problem);
  return v.name;
}
