// Kernels the tuned variants choose per dispatch, cached by block shape and a number of option bits: the
// builders' own memo keys are strings, and a backward asks for a kernel several times per chunk.
import type { Kernel, TileConfig } from '@cce/core';
import type { CceFlags } from './kernels/common.js';

/** A builder memoised on (shape, bits); `bits` must determine the kernel for a shape. */
export function kernelCache(build: (shape: TileConfig, bits: number) => Kernel): (shape: TileConfig, bits: number) => Kernel {
  const byShape = new WeakMap<TileConfig, Map<number, Kernel>>();
  return (shape, bits) => {
    let kernels = byShape.get(shape);
    if (!kernels) byShape.set(shape, (kernels = new Map()));
    let k = kernels.get(bits);
    if (!k) kernels.set(bits, (k = build(shape, bits)));
    return k;
  };
}

/** The four option flags as bits 0-3 (flagsOf reads them back). */
export const flagBits = (f: CceFlags): number => (+f.bias) | (+f.softcap << 1) | (+f.smoothing << 2) | (+f.zLoss << 3);
export const flagsOf = (bits: number): CceFlags => ({ bias: !!(bits & 1), softcap: !!(bits & 2), smoothing: !!(bits & 4), zLoss: !!(bits & 8) });

/** Bit `i` of `bits` as a boolean, and a boolean as bit `i`. */
export const bit = (bits: number, i: number): boolean => !!(bits & (1 << i));
export const asBit = (on: boolean, i: number): number => (+on) << i;
