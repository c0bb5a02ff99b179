// The block-product configurations CCE's tuned kernels are built with (core's engine, ops/tuned), by
// role: the forward's log-sum-exp, and the backward's gradient block, dE and dC products. Blocks are
// square, so that a forward's block bounds cover whole backward gradient blocks, and their
// rows and columns per invocation group (TY * 4 and TX * 4) are multiples of the 32 x 32 filter tile.
import type { TileConfig } from '@cce/core';

export const BLOCK_SHAPES: Record<string, TileConfig> = {
  '64/4x4': { BM: 64, BN: 64, BK: 16, TM: 4, TN: 4 },
  '64/8x8': { BM: 64, BN: 64, BK: 16, TM: 8, TN: 8 },
  '128/8x8': { BM: 128, BN: 128, BK: 8, TM: 8, TN: 8 },
};

/** The forward's log-sum-exp kernel, or the backward's gradient kernels. */
export type BlockRole = 'forward' | 'backward';

/**
 * Default shapes, from H200 timings (BENCHMARKS.md): the forward's one long product runs fastest on
 * 128-blocks, the backward's chunk products (a few hundred blocks each) on 64-blocks, which divide the
 * forward's bound tile.
 */
const DEFAULT_SHAPES: Record<BlockRole, string> = { forward: '128/8x8', backward: '64/4x4' };
const current: Record<BlockRole, TileConfig> = {
  forward: BLOCK_SHAPES[DEFAULT_SHAPES.forward]!,
  backward: BLOCK_SHAPES[DEFAULT_SHAPES.backward]!,
};

/** The block shape new CCE kernels use, for one role or both (the benchmark and tests compare them). */
export function setBlockShape(name: string, role?: BlockRole): void {
  const shape = BLOCK_SHAPES[name];
  if (!shape) throw new Error(`unknown CCE block shape '${name}' (have ${Object.keys(BLOCK_SHAPES).join(', ')})`);
  for (const r of role ? [role] : (['forward', 'backward'] as const)) current[r] = shape;
}

/** Back to the default shapes. */
export function resetBlockShapes(): void {
  for (const r of ['forward', 'backward'] as const) current[r] = BLOCK_SHAPES[DEFAULT_SHAPES[r]]!;
}

export const blockShape = (role: BlockRole): TileConfig => current[role];
