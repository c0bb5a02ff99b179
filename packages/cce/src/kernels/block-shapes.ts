// The block-product configurations CCE's tuned kernels are built with (core's engine, ops/tuned), by
// role: the forward's log-sum-exp, and the backward's gradient block, dE and dC products. Blocks are
// square, so that a forward's block bounds cover whole backward gradient blocks, and their
// rows and columns per invocation group (TY * 4 and TX * 4) are multiples of the 32 x 32 filter tile.
import type { TileConfig } from '@cce/core';

export const BLOCK_SHAPES: Record<string, TileConfig> = {
  '64/4x4': { BM: 64, BN: 64, BK: 16, TM: 4, TN: 4 },
  '64/8x8': { BM: 64, BN: 64, BK: 16, TM: 8, TN: 8 },
  '128/8x8': { BM: 128, BN: 128, BK: 8, TM: 8, TN: 8 },
  '128/8x8/k16': { BM: 128, BN: 128, BK: 16, TM: 8, TN: 8 },
};

/** The forward's log-sum-exp kernel, or the backward's gradient kernels. */
export type BlockRole = 'forward' | 'backward';

/**
 * Default shapes by preference, from H200 timings (BENCHMARKS.md): the forward's one long product runs
 * fastest on 128-blocks with k slices of 16 (42 KiB of workgroup memory; adapters with less take the
 * next), the backward's chunk products (a few hundred blocks each) on 64-blocks, which divide the
 * forward's bound tile.
 */
const DEFAULT_SHAPES: Record<BlockRole, string[]> = { forward: ['128/8x8/k16', '128/8x8', '64/8x8'], backward: ['64/4x4'] };
const current: Record<BlockRole, TileConfig[]> = { forward: [], backward: [] };

/** The block shape new CCE kernels use, for one role or both (the benchmark and tests compare them). */
export function setBlockShape(name: string, role?: BlockRole): void {
  const shape = BLOCK_SHAPES[name];
  if (!shape) throw new Error(`unknown CCE block shape '${name}' (have ${Object.keys(BLOCK_SHAPES).join(', ')})`);
  for (const r of role ? [role] : (['forward', 'backward'] as const)) current[r] = [shape];
}

/** Back to the default shapes. */
export function resetBlockShapes(): void {
  for (const r of ['forward', 'backward'] as const) current[r] = DEFAULT_SHAPES[r].map((n) => BLOCK_SHAPES[n]!);
}
resetBlockShapes();

/** The shapes of a role by preference (one, once set); a new array whenever they change. */
export const blockShapes = (role: BlockRole): readonly TileConfig[] => current[role];
