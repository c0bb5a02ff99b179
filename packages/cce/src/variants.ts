// The heavy steps of CCE as variant problems, with the portable ('simple') variant of each. Tuned
// variants (workgroup-memory tiles) register under the same names with a higher priority.
import * as C from '@cce/core';
import type { Backend, Tensor } from '@cce/core';
import { type CceFlags, FILTER_TILE } from './kernels/common.js';
import { gradBlockKernel, gradCKernel, gradCMapKernel, gradEKernel, gradEMapKernel, lseSplitKernel, tileMaskKernel } from './kernels/simple.js';
import { gradCReduceKernel, tiledGradBlockKernel, tiledGradCKernel, tiledGradEKernel } from './kernels/tiled-backward.js';
import { tiledLseKernel } from './kernels/tiled-forward.js';
import { type BlockRole, blockShapes } from './kernels/block-shapes.js';
import { asBit, bit, flagBits, flagsOf, kernelCache } from './kernel-cache.js';

/** What every logit-recomputing step binds: e [N, D], c [V, D], bias, sizes and option values. */
export interface LogitProblem {
  flags: CceFlags;
  /** The token rows of e: the whole tensor, or a window of it (a chunk's rows). */
  e: C.BufferArg;
  /** The vocabulary block's rows of c (and bias): the whole tensor, or a window of it. */
  c: C.BufferArg;
  bias: C.BufferArg | null;
  N: number;
  D: number;
  /** Rows in this block. */
  V: number;
  /** The whole vocabulary (label smoothing's ε / V). */
  Vtotal: number;
  softcap: number;
}

// Fresh records that callers add their own bindings to (no spreads: these are built per dispatch).
export function logitBuffers(p: LogitProblem): Record<string, C.BufferArg> {
  const buffers: Record<string, C.BufferArg> = { e: p.e, c: p.c };
  if (p.bias) buffers.bias = p.bias;
  return buffers;
}
export function logitUniforms(p: LogitProblem): Record<string, number> {
  const uniforms: Record<string, number> = { D: p.D };
  if (p.flags.softcap) uniforms.softcap = p.softcap;
  return uniforms;
}

/**
 * Block bounds (see kernels/tiled-forward.ts): tmax [ceil(N / tile), ceil(V / tile)], prefilled with BOUND_KEEP,
 * so that a forward variant that records none leaves every block kept.
 */
export interface BlockBounds {
  tmax: Tensor;
  /** Token rows and sorted entries per block: the block side (BM). */
  tile: number;
}

/** What a forward needs to record bounds: the order the backward walks the block in, and its targets. */
export interface BoundsToRecord extends BlockBounds {
  perm: Tensor;
  /** Block-local targets. */
  tgt: Tensor;
}

/** part [S, N]: the log-sum-exp of each vocabulary split of Vs entries (a multiple of the bound tile). */
export interface LseProblem extends LogitProblem {
  part: Tensor;
  S: number;
  Vs: number;
  bounds: BoundsToRecord | null;
}

/**
 * h (first N x Vc elements) and mask (first ceil(N / 32) x ceil(Vc / 32)) for the sorted chunk
 * [v0, v0 + Vc). tgt holds block-local targets and ignoreIndex their code for an ignored token.
 */
export interface GradBlockProblem extends LogitProblem {
  perm: Tensor;
  /** lse and tgt of the chunk's token rows. */
  lse: C.BufferArg;
  tgt: C.BufferArg;
  h: Tensor;
  mask: Tensor;
  v0: number;
  Vc: number;
  ignoreIndex: number;
  smoothing: number;
  zLoss: number;
  filterEps: number;
  /** The forward's block bounds (v0 and Vc then multiples of bounds.tile), or null. */
  bounds: BlockBounds | null;
  /** The bound block row of the chunk's first token (its rows start at a multiple of bounds.tile). */
  boundRow0: number;
}

/**
 * A buffer a variant reuses across the chunks of one backward (allocated at first use, freed by the
 * backward): a fresh buffer per chunk would wait for its batch's submission before it could be reused.
 */
export class Workspace {
  private tensor: Tensor | null = null;
  constructor(private readonly backend: Backend) {}

  /** At least n f32 elements. */
  get(n: number): Tensor {
    if (!this.tensor || this.tensor.size < n) {
      this.tensor?.dispose();
      this.tensor = C.Tensor.empty([n], 'f32', this.backend);
    }
    return this.tensor;
  }

  dispose(): void {
    this.tensor?.dispose();
    this.tensor = null;
  }
}

/** dE (+)= g ⊙ (h C_chunk), and dC[chunk rows] = (g ⊙ h)ᵀ E (+ smooth). */
export interface GradProductProblem {
  h: Tensor;
  mask: Tensor;
  /** g, e (for dC) and dE of the chunk's token rows. */
  g: C.BufferArg;
  perm: Tensor;
  N: number;
  D: number;
  v0: number;
  Vc: number;
  /** e for dC, c (the block's rows) for dE. */
  operand: C.BufferArg;
  /** dE, or the block's rows of dC. */
  out: C.BufferArg;
  /** Add to out: dE after the first vocabulary chunk, dC after a chunk's first token rows. */
  accumulate: boolean;
  smooth: Tensor | null;
  /** Bytes a variant may use for partial results (the op's scratch budget), in `workspace`. */
  scratchBytes: number;
  workspace: Workspace;
}

export const tilesOf = (n: number) => Math.ceil(n / FILTER_TILE);

/** Dispatches a kernel over `count` invocations in one dimension; adds `count` to `uniforms` (a fresh record). */
function dispatchFlat(backend: Backend, kernel: C.Kernel, count: number, buffers: Record<string, C.BufferArg>, uniforms: Record<string, number>) {
  if (count === 0) return;
  const grid = C.grid1d(count, kernel.workgroupSize[0], backend.capabilities.limits.maxWorkgroupsPerDimension);
  uniforms.count = count;
  C.dispatchKernel(backend, kernel, buffers, uniforms, grid);
}

C.registerVariant<LseProblem>('cce.lse', {
  name: 'simple',
  priority: 0,
  supports: () => true,
  run: (_b, p) => {
    C.runMap(lseSplitKernel(p.flags), p.part, logitBuffers(p), { ...logitUniforms(p), N: p.N, V: p.V, Vs: p.Vs });
  },
});

C.registerVariant<GradBlockProblem>('cce.gradBlock', {
  name: 'simple',
  priority: 0,
  supports: () => true,
  run: (_b, p) => {
    C.runMap(gradBlockKernel(p.flags), p.h, { ...logitBuffers(p), perm: p.perm, lse: p.lse, tgt: p.tgt }, {
      ...logitUniforms(p), V: p.Vtotal, v0: p.v0, Vc: p.Vc, ignore: p.ignoreIndex,
      ...(p.flags.smoothing ? { smoothing: p.smoothing } : {}), ...(p.flags.zLoss ? { z_loss: p.zLoss } : {}),
    }, p.N * p.Vc);
    C.runMap(tileMaskKernel(), p.mask, { h: p.h }, { N: p.N, Vc: p.Vc, eps: p.filterEps }, tilesOf(p.N) * tilesOf(p.Vc));
  },
});

const indexedStores = (backend: Backend) => !backend.capabilities.mapOnly;

C.registerVariant<GradProductProblem>('cce.gradE', {
  name: 'simple',
  priority: 0,
  supports: indexedStores,
  run: (backend, p) => {
    dispatchFlat(backend, gradEKernel(p.accumulate), p.N * p.D, { h: p.h, c: p.operand, g: p.g, perm: p.perm, mask: p.mask, out: p.out },
      { D: p.D, v0: p.v0, Vc: p.Vc });
  },
});

C.registerVariant<GradProductProblem>('cce.gradC', {
  name: 'simple',
  priority: 0,
  supports: indexedStores,
  run: (backend, p) => {
    dispatchFlat(backend, gradCKernel(!!p.smooth, p.accumulate), p.Vc * p.D,
      { h: p.h, e: p.operand, g: p.g, perm: p.perm, mask: p.mask, out: p.out, ...(p.smooth ? { smooth: p.smooth } : {}) },
      { N: p.N, D: p.D, v0: p.v0, Vc: p.Vc });
  },
});

// Map variants for map-only backends (gpu.js): the identity permutation, one chunk at a time, every
// output element rewritten (kept outside the chunk).
const mapOnly = (backend: Backend) => backend.capabilities.mapOnly;

C.registerVariant<GradProductProblem>('cce.gradE', {
  name: 'map',
  priority: -10,
  supports: mapOnly,
  run: (_backend, p) => {
    C.runMap(gradEMapKernel(p.accumulate), p.out as Tensor, { h: p.h, c: p.operand, g: p.g, mask: p.mask }, { D: p.D, v0: p.v0, Vc: p.Vc });
  },
});

C.registerVariant<GradProductProblem>('cce.gradC', {
  name: 'map',
  priority: -10,
  supports: mapOnly,
  run: (_backend, p) => {
    // The backward gives map-only backends chunks of every token, so dC rows are written once.
    if (p.accumulate) throw new Error('cce.gradC (map): a chunk of some token rows needs indexed stores');
    C.runMap(gradCMapKernel(!!p.smooth), p.out as Tensor, { h: p.h, e: p.operand, g: p.g, mask: p.mask, ...(p.smooth ? { smooth: p.smooth } : {}) },
      { N: p.N, D: p.D, v0: p.v0, Vc: p.Vc });
  },
});

// Tuned variants: workgroup blocks on core's block-product engine, in the first block shape of each role
// (block-shapes.ts) that the backend can run (C.kernelFits: features, invocations, workgroup memory).
const PLAIN: CceFlags = { bias: false, softcap: false, smoothing: false, zLoss: false };
/** Per backend, the shape lists a choice was made from (a set shape replaces them) and the choice. */
const fitted = new WeakMap<Backend, { from: (readonly C.TileConfig[])[]; forward: C.TileConfig; backward: C.TileConfig }>();

/** The block shape of a role on this backend: the first that fits, else the last (its variants then step aside). */
export function blockShapeFor(backend: Backend, role: BlockRole): C.TileConfig {
  let entry = fitted.get(backend);
  if (!entry || entry.from[0] !== blockShapes('forward') || entry.from[1] !== blockShapes('backward')) {
    const pick = (shapes: readonly C.TileConfig[], kernel: (s: C.TileConfig) => C.Kernel) => shapes.find((s) => C.kernelFits(backend, kernel(s))) ?? shapes[shapes.length - 1]!;
    entry = {
      from: [blockShapes('forward'), blockShapes('backward')],
      forward: pick(blockShapes('forward'), (s) => tiledLseKernel(PLAIN, true, s)),
      backward: pick(blockShapes('backward'), (s) => tiledGradBlockKernel(PLAIN, 0, s)),
    };
    fitted.set(backend, entry);
  }
  return entry[role];
}

const gridFits = (backend: Backend, x: number, y: number) => Math.max(x, y) <= backend.capabilities.limits.maxWorkgroupsPerDimension;
/** Workgroup blocks of a block shape along a side of n. */
const blocks = (shape: C.TileConfig, n: number) => Math.ceil(n / shape.BM);

// Bounds are recorded where the forward's block is the bound tile, and used where the backward's block divides it.
const boundsFit = (p: { bounds: BlockBounds | null }, role: BlockRole, shape: C.TileConfig) =>
  !!p.bounds && (role === 'forward' ? p.bounds.tile === shape.BM : p.bounds.tile % shape.BM === 0);

const tiledLse = kernelCache((shape, bits) => tiledLseKernel(flagsOf(bits), bit(bits, 4), shape));
const lseBits = (p: LseProblem, shape: C.TileConfig) => flagBits(p.flags) | asBit(boundsFit(p, 'forward', shape), 4);

C.registerVariant<LseProblem>('cce.lse', {
  name: 'tiled',
  tuned: true,
  priority: 10,
  supports: (backend, p) => {
    const shape = blockShapeFor(backend, 'forward');
    return C.kernelFits(backend, tiledLse(shape, lseBits(p, shape))) && gridFits(backend, blocks(shape, p.N), p.S);
  },
  run: (backend, p) => {
    const shape = blockShapeFor(backend, 'forward');
    const buffers = logitBuffers(p);
    if (boundsFit(p, 'forward', shape)) {
      buffers.perm = p.bounds!.perm;
      buffers.tgt = p.bounds!.tgt;
      buffers.tmax = p.bounds!.tmax;
    }
    buffers.out = p.part;
    const uniforms = logitUniforms(p);
    uniforms.N = p.N;
    uniforms.V = p.V;
    uniforms.Vs = p.Vs;
    C.dispatchKernel(backend, tiledLse(shape, lseBits(p, shape)), buffers, uniforms, [blocks(shape, p.N), p.S, 1]);
  },
});

/** The bound tile a gradient block uses (0: none). */
const boundTileOf = (p: GradBlockProblem, shape: C.TileConfig) => (boundsFit(p, 'backward', shape) ? p.bounds!.tile : 0);
const tiledGradBlock = kernelCache((shape, bits) => tiledGradBlockKernel(flagsOf(bits & 15), bits >> 4, shape));

C.registerVariant<GradBlockProblem>('cce.gradBlock', {
  name: 'tiled',
  tuned: true,
  priority: 10,
  supports: (backend, p) => {
    const shape = blockShapeFor(backend, 'backward');
    return C.kernelFits(backend, tiledGradBlock(shape, flagBits(p.flags) | (boundTileOf(p, shape) << 4))) && gridFits(backend, blocks(shape, p.Vc), blocks(shape, p.N));
  },
  run: (backend, p) => {
    const shape = blockShapeFor(backend, 'backward');
    const boundTile = boundTileOf(p, shape);
    const buffers = logitBuffers(p);
    buffers.perm = p.perm;
    buffers.lse = p.lse;
    buffers.tgt = p.tgt;
    buffers.h = p.h;
    buffers.mask = p.mask;
    const uniforms = logitUniforms(p);
    uniforms.N = p.N;
    uniforms.V = p.Vtotal;
    uniforms.v0 = p.v0;
    uniforms.Vc = p.Vc;
    uniforms.ignore = p.ignoreIndex;
    uniforms.eps = p.filterEps;
    if (boundTile) {
      buffers.tmax = p.bounds!.tmax;
      uniforms.bound_cols = Math.ceil(p.V / boundTile);
      uniforms.bound_row0 = p.boundRow0;
    }
    if (p.flags.smoothing) uniforms.smoothing = p.smoothing;
    if (p.flags.zLoss) uniforms.z_loss = p.zLoss;
    C.dispatchKernel(backend, tiledGradBlock(shape, flagBits(p.flags) | (boundTile << 4)), buffers, uniforms, [blocks(shape, p.Vc), blocks(shape, p.N), 1]);
  },
});

const tiledGradE = kernelCache((shape, bits) => tiledGradEKernel(bit(bits, 0), bit(bits, 1), shape));
const gradEBits = (p: GradProductProblem) => asBit(p.accumulate, 0) | asBit(p.D % 4 === 0, 1);

C.registerVariant<GradProductProblem>('cce.gradE', {
  name: 'tiled',
  tuned: true,
  priority: 10,
  supports: (backend, p) => {
    const shape = blockShapeFor(backend, 'backward');
    return C.kernelFits(backend, tiledGradE(shape, gradEBits(p))) && gridFits(backend, blocks(shape, p.D), blocks(shape, p.N));
  },
  run: (backend, p) => {
    const shape = blockShapeFor(backend, 'backward');
    C.dispatchKernel(backend, tiledGradE(shape, gradEBits(p)), { h: p.h, c: p.operand, g: p.g, perm: p.perm, mask: p.mask, out: p.out },
      { N: p.N, D: p.D, v0: p.v0, Vc: p.Vc }, [blocks(shape, p.D), blocks(shape, p.N), 1]);
  },
});

/** dC's kernel by (smoothing, split, accumulate, vec4) as bits 0-3. */
const tiledGradC = kernelCache((shape, bits) => tiledGradCKernel(bit(bits, 0), bit(bits, 1), bit(bits, 2), bit(bits, 3), shape));
const gradCBits = (smoothing: boolean, split: boolean, accumulate: boolean, p: GradProductProblem) =>
  asBit(smoothing, 0) | asBit(split, 1) | asBit(accumulate, 2) | asBit(p.D % 4 === 0, 3);

C.registerVariant<GradProductProblem>('cce.gradC', {
  name: 'tiled',
  tuned: true,
  priority: 10,
  supports: (backend, p) => {
    const shape = blockShapeFor(backend, 'backward');
    return C.kernelFits(backend, tiledGradC(shape, gradCBits(false, true, false, p))) && gridFits(backend, blocks(shape, p.D), blocks(shape, p.Vc));
  },
  run: (backend, p) => {
    const shape = blockShapeFor(backend, 'backward');
    // Few vocabulary rows per chunk leave the GPU idle over a long token loop: split the tokens and sum
    // the partial products after, within a partial buffer of at most a quarter of the scratch.
    const blocksOut = blocks(shape, p.D) * blocks(shape, p.Vc);
    const bySize = Math.floor(p.scratchBytes / 4 / (4 * p.Vc * p.D));
    const splits = Math.max(1, Math.min(16, Math.ceil(512 / blocksOut), bySize, Math.ceil(p.N / 64), backend.capabilities.limits.maxWorkgroupsPerDimension));
    const Ns = Math.ceil(Math.ceil(p.N / splits) / FILTER_TILE) * FILTER_TILE;
    const z = Math.ceil(p.N / Ns);
    const buffers: Record<string, C.BufferArg> = { h: p.h, e: p.operand, g: p.g, perm: p.perm, mask: p.mask };
    const uniforms = { N: p.N, D: p.D, v0: p.v0, Vc: p.Vc, Ns };
    const grid: C.Grid = [blocks(shape, p.D), blocks(shape, p.Vc), z];
    if (z === 1) {
      if (p.smooth) buffers.smooth = p.smooth;
      buffers.out = p.out;
      C.dispatchKernel(backend, tiledGradC(shape, gradCBits(!!p.smooth, false, p.accumulate, p)), buffers, uniforms, grid);
      return;
    }
    const partial = p.workspace.get(z * p.Vc * p.D);
    buffers.out = partial;
    C.dispatchKernel(backend, tiledGradC(shape, gradCBits(false, true, false, p)), buffers, uniforms, grid);
    const reduce: Record<string, C.BufferArg> = { partial, perm: p.perm, out: p.out };
    if (p.smooth) reduce.smooth = p.smooth;
    dispatchFlat(backend, gradCReduceKernel(!!p.smooth, p.accumulate), p.Vc * p.D, reduce, { D: p.D, v0: p.v0, splits: z });
  },
});

export { dispatchFlat };
