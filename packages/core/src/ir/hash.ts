// Structural hashing: two kernels with the same tree (names, types, statements) get the same key, so a
// backend compiles a kernel once and serves every shape with it (sizes are uniforms).
import type { Kernel } from './types.js';

const hashes = new WeakMap<Kernel, string>();

/** Canonical JSON: object keys sorted, so construction order never changes the hash. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Two independent 32-bit FNV-1a style lanes, printed as 16 hex digits. */
function hash64(text: string): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193 ^ text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
  return (h1 >>> 0).toString(16).padStart(8, '0') + (h2 >>> 0).toString(16).padStart(8, '0');
}

export function kernelHash(kernel: Kernel): string {
  let h = hashes.get(kernel);
  if (!h) {
    h = `${kernel.name}-${hash64(canonicalJson(kernel))}`;
    hashes.set(kernel, h);
  }
  return h;
}
