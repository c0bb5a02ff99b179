// linearCrossEntropy: the fused linear + cross-entropy op. The N x V logits never exist: the forward
// keeps an online log-sum-exp over vocabulary splits, the backward recomputes logits chunk by chunk into
// a bounded scratch of softmax - onehot, skips filter tiles below filterEps, and accumulates
// dE, dC and dBias with one owner per output element (no float atomics).
import * as C from '@cce/core';
import { type Tensor, i32 } from '@cce/core';
import { type CceFlags, FILTER_TILE } from './kernels/common.js';
import { BOUND_KEEP } from './kernels/common.js';
import {
  effectiveTargetsKernel, gradBiasKernel, gradBiasMapKernel, logitSumKernel, lseCombineKernel, targetLogitKernel, tokenLossKernel, tokenScaleKernel,
} from './kernels/simple.js';
import { type LinearCrossEntropyOptions, type ResolvedOptions, checkShapes, checkShift, checkTargetValues, resolveOptions } from './options.js';
import { columnSums, identityPermutation, meanLogits, sortedPermutation } from './sort.js';
import {
  type BlockBounds, type BoundsToRecord, type GradBlockProblem, Workspace, type GradProductProblem, type LogitProblem, type LseProblem,
  blockShapeFor, dispatchFlat, logitBuffers, logitUniforms, tilesOf,
} from './variants.js';

/** Counts filter tiles over backward passes (pass one in the options to collect). */
export class FilterStats {
  totalTiles = 0;
  private active: Tensor | null = null;

  /** @internal */
  add(mask: Tensor, tiles: number): void {
    this.totalTiles += tiles;
    const prev = this.active;
    this.active = C.keep(C.noGrad(() => C.scopeSync(() => {
      const s = C.cast(C.sum(mask), 'f32');
      return prev ? C.add(prev, s) : s;
    })));
    prev?.dispose();
  }

  /** Fraction of tiles skipped by the filter (0 when nothing was counted). */
  async skippedFraction(): Promise<number> {
    if (!this.active || this.totalTiles === 0) return 0;
    return 1 - (await this.active.item()) / this.totalTiles;
  }

  dispose(): void {
    this.active?.dispose();
    this.active = null;
    this.totalTiles = 0;
  }
}

interface Attrs {
  o: ResolvedOptions;
  N: number;
  D: number;
  V: number;
  flags: CceFlags;
  stats?: FilterStats;
  /** A backward will run: the forward orders each vocabulary window and, with `boundTile`, records block bounds. */
  prepareBackward: boolean;
  /** The block side when block bounds are recorded (see kernels/tiled-forward.ts), else 0. */
  boundTile: number;
}

/**
 * Block bounds pay off when the filter is on and a backward will run, on backends with the tuned
 * kernels; under softcap with label smoothing every term carries a dense -ε/V, so nothing is bounded.
 * The backward's block must divide the forward's, which is the bound tile (it does for the default shapes).
 */
function boundTileFor(o: ResolvedOptions, flags: CceFlags, backend: C.Backend, prepareBackward: boolean): number {
  const useful = prepareBackward && o.filterEps > 0 && !(flags.softcap && flags.smoothing) && !backend.capabilities.mapOnly;
  const tile = blockShapeFor(backend, 'forward').BM;
  return useful && tile % blockShapeFor(backend, 'backward').BM === 0 ? tile : 0;
}

/**
 * A window of vocabulary rows [w0, w0 + Vw) whose slice of C fits one storage binding. Small classifiers
 * are one window, bound whole; larger ones are bound as windows (BufferRange) of C, bias and dC. (A
 * "block" in CCE is a block product's block of tokens x entries; a "tile" the filter's 32 x 32 tile.)
 */
interface VocabWindow {
  w0: number;
  Vw: number;
  c: C.BufferArg;
  bias: C.BufferArg | null;
  window: <T extends C.BufferArg>(t: T, rowWidth: number) => C.BufferArg;
}

function vocabWindows(c: Tensor, bias: Tensor | null, V: number, D: number): VocabWindow[] {
  const backend = c.backend;
  const limit = backend.capabilities.limits.maxStorageBufferBindingSize;
  if (V * D * 4 <= limit) return [{ w0: 0, Vw: V, c, bias, window: (t) => t }];
  if (!backend.capabilities.bindingRanges) {
    throw new Error(`linearCrossEntropy: c is ${V * D * 4} bytes, more than the largest storage binding (${limit}), and backend '${backend.name}' cannot bind windows of a buffer`);
  }
  // Rows per window: a multiple of the 64-element window alignment that fits the binding.
  const rows = Math.floor(limit / (D * 4) / C.RANGE_ALIGNMENT) * C.RANGE_ALIGNMENT;
  if (rows === 0) throw new Error(`linearCrossEntropy: ${C.RANGE_ALIGNMENT} rows of c (D = ${D}) exceed the largest storage binding (${limit} bytes)`);
  const windows: VocabWindow[] = [];
  for (let w0 = 0; w0 < V; w0 += rows) {
    const Vw = Math.min(rows, V - w0);
    const window = (t: C.BufferArg, rowWidth: number) =>
      C.bufferRange(t instanceof C.Tensor ? t.buffer : t, w0 * rowWidth, Vw * rowWidth);
    windows.push({ w0, Vw, c: window(c, D), bias: bias ? window(bias, 1) : null, window });
  }
  return windows;
}

/** Window-local codes of ignored targets and of targets in other windows (never a row index). */
const LOCAL_IGNORED = -2;
const LOCAL_ELSEWHERE = -1;

/**
 * Targets relative to a window [w0, w0 + Vw): t - w0 inside it, LOCAL_IGNORED for ignoreIndex and
 * LOCAL_ELSEWHERE otherwise, so that no valid local index can be mistaken for ignoreIndex (with
 * ignoreIndex 0, local index 0 is a real entry).
 */
function localTargets(tgt: Tensor, w0: number, Vw: number, ignoreIndex: number): Tensor {
  return C.mapElementwise('cce_local_targets', [tgt], 'i32', ([t], [o, n, ig]) => {
    const local = t!.sub(o!.toI32());
    const inside = local.ge(0).and(local.lt(n!.toI32()));
    return t!.eq(ig!.toI32()).select(i32(LOCAL_IGNORED), inside.select(local, i32(LOCAL_ELSEWHERE)));
  }, [w0, Vw, ignoreIndex]);
}

/**
 * Vocabulary splits of the forward: enough independent work to fill a GPU, never an empty split, each a
 * multiple of `align` entries (the bound tile, so that bound blocks never straddle two splits).
 */
function splitsFor(N: number, V: number, align: number): { S: number; Vs: number } {
  const want = Math.max(1, Math.min(Math.ceil(65536 / Math.max(N, 1)), Math.ceil(V / 64)));
  const Vs = Math.ceil(Math.ceil(V / want) / align) * align;
  return { S: Math.ceil(V / Vs), Vs };
}

/** The order the backward walks a vocabulary window in (see the backward); map-only backends keep theirs. */
function windowOrder(o: ResolvedOptions, e2d: Tensor, win: VocabWindow): Tensor {
  const sort = o.sortVocab && win.Vw > 1 && !e2d.backend.capabilities.mapOnly;
  return sort ? sortedPermutation(meanLogits(e2d, win.c, win.bias, win.Vw), win.Vw) : identityPermutation(win.Vw, e2d.backend);
}

/** log Σ exp over the first dimension of [S, N] partial log-sum-exps. */
function combineLse(part: Tensor, S: number, N: number): Tensor {
  return C.runMap(lseCombineKernel(), C.Tensor.empty([N], 'f32', part.backend), { part }, { S, N });
}

function forward(inputs: Tensor[], a: Attrs): { output: Tensor; saved: Tensor[] } {
  const [e, c, targets, bias] = inputs as [Tensor, Tensor, Tensor, Tensor | undefined];
  const { o, N, D, V, flags, boundTile } = a;
  const backend = e.backend;
  const tgt = C.runMap(effectiveTargetsKernel(), C.Tensor.empty([N], 'i32', backend), { targets }, { T: targets.shape[targets.rank - 1]!, shift: o.shift, ignore: o.ignoreIndex });
  const lses: Tensor[] = [];
  // Per vocabulary window, for the backward: its order, then its block bounds when recorded.
  const windowSaved: Tensor[] = [];
  let yt: Tensor | null = null;
  let sumy: Tensor | null = null;
  const addTo = (acc: Tensor | null, x: Tensor) => (acc ? C.add(acc, x) : x);
  for (const win of vocabWindows(c, bias ?? null, V, D)) {
    const lp: LogitProblem = { flags, e, c: win.c, bias: win.bias, N, D, V: win.Vw, Vtotal: V, softcap: o.softcap };
    const local = localTargets(tgt, win.w0, win.Vw, o.ignoreIndex);
    let bounds: BoundsToRecord | null = null;
    if (a.prepareBackward) {
      const perm = windowOrder(o, C.reshape(e, [N, D]), win);
      windowSaved.push(perm);
      if (boundTile) {
        const tmax = C.full([Math.ceil(N / boundTile) * Math.ceil(win.Vw / boundTile)], BOUND_KEEP, { backend });
        bounds = { tmax, tile: boundTile, perm, tgt: local };
        windowSaved.push(tmax);
      }
    }
    const { S, Vs } = splitsFor(N, win.Vw, boundTile || 1);
    const part = C.Tensor.empty([S, N], 'f32', backend);
    C.runVariant<LseProblem>('cce.lse', backend, { ...lp, part, S, Vs, bounds });
    lses.push(combineLse(part, S, N));
    yt = addTo(yt, C.runMap(targetLogitKernel(flags), C.Tensor.empty([N], 'f32', backend), { ...logitBuffers(lp), tgt: local }, { ...logitUniforms(lp), V: win.Vw }));
    if (flags.smoothing) sumy = addTo(sumy, C.runMap(logitSumKernel(flags), C.Tensor.empty([N], 'f32', backend), logitBuffers(lp), { ...logitUniforms(lp), V: win.Vw }));
  }
  const lse = lses.length === 1 ? lses[0]! : combineLse(C.concat(lses.map((l) => C.reshape(l, [1, N])), 0), lses.length, N);
  const perToken = C.runMap(tokenLossKernel(flags), C.Tensor.empty([N], 'f32', backend), { lse, yt: yt!, tgt, ...(sumy ? { sumy } : {}) }, {
    V, ignore: o.ignoreIndex, ...(flags.smoothing ? { smoothing: o.labelSmoothing } : {}), ...(flags.zLoss ? { z_loss: o.zLoss } : {}),
  });
  const valid = C.compareScalar(tgt, 'ne', o.ignoreIndex);
  const count = C.sum(valid); // a mean over no valid token is 0 / 0 = NaN, as in PyTorch
  let output: Tensor;
  if (o.reduction === 'none') output = C.reshape(perToken, targets.shape);
  else {
    const total = C.sum(perToken);
    output = o.reduction === 'sum' ? total : C.div(total, count);
  }
  // Everything else made here is freed when the forward's scope closes; the saved tensors live on.
  return { output, saved: [lse, tgt, count, ...windowSaved] };
}

/** Fewest vocabulary entries per chunk for which tall (all-token) chunks keep the dC product busy. */
const MIN_TALL_WIDTH = 1024;

/**
 * The backward's chunk of Nc tokens x Vc vocabulary entries, whose Nc x Vc scratch fits both the scratch
 * budget and one storage binding. Tall chunks (every token) where the budget holds N x MIN_TALL_WIDTH or
 * token windows cannot be bound; otherwise square ones, so that the dE (Nc x D) and dC (Vc x D) products
 * both have blocks enough to fill a GPU. Vc a multiple of `align` (itself a multiple of the filter tile),
 * Nc of `rowAlign` (the binding-window alignment and the bound tile); at least one of each.
 */
function chunkShape(N: number, V: number, scratchBytes: number, maxBinding: number, align: number, rowAlign: number, canWindow: boolean): { Nc: number; Vc: number } {
  const budget = Math.floor(Math.min(scratchBytes, maxBinding) / 4);
  const width = (rows: number) => Math.min(Math.max(Math.floor(budget / Math.max(rows, 1) / align) * align, align), V);
  if (!canWindow || N <= rowAlign || N * Math.min(V, MIN_TALL_WIDTH) <= budget) return { Nc: N, Vc: width(N) };
  const Nc = Math.min(N, Math.max(rowAlign, Math.floor(Math.sqrt(budget) / rowAlign) * rowAlign));
  return { Nc, Vc: width(Nc) };
}

function backward(gOut: Tensor, ctx: C.FusedBackwardContext<Attrs>): (Tensor | null)[] {
  const [e, c, , bias] = ctx.inputs as [Tensor, Tensor, Tensor, Tensor | undefined];
  const [lse, tgt, count, ...windowSaved] = ctx.saved as [Tensor, Tensor, Tensor, ...Tensor[]];
  const { o, N, D, V, flags, stats, boundTile } = ctx.attrs;
  const backend = e.backend;
  if (N === 0) {
    // No token: every gradient is zero (PyTorch's result), and no chunk has any work.
    const zero = (t: Tensor | undefined, i: number) => (t && ctx.needsGrad[i] ? C.zerosLike(t) : null);
    return [zero(e, 0), zero(c, 1), null, ...(bias ? [zero(bias, 3)] : [])];
  }
  const mapOnly = backend.capabilities.mapOnly;
  const e2d = C.reshape(e, [N, D]);
  const g = C.runMap(tokenScaleKernel(o.reduction), C.Tensor.empty([N], 'f32', backend), { g_out: gOut, valid_count: count, tgt }, { ignore: o.ignoreIndex });
  // Label smoothing's rank-one terms (without softcap): every dE row gets -ε/V g_i Σ_v c_v, every dC
  // row -ε/V Σ_i g_i e_i, every dBias entry -ε/V Σ_i g_i.
  const rankOne = flags.smoothing && !flags.softcap;
  const eps = o.labelSmoothing / V;
  const smoothC = rankOne ? C.mulScalar(C.reshape(C.matmul(C.reshape(g, [1, N]), e2d), [D]), -eps) : null;
  let colSum: Tensor | null = null;

  const dE = C.Tensor.empty([N, D], 'f32', backend);
  const dC = C.Tensor.empty([V, D], 'f32', backend);
  const dBias = bias ? C.Tensor.empty([V], 'f32', backend) : null;
  // Chunks aligned to the bound tile use the forward's bounds; where one such chunk would not fit a
  // storage binding, chunks aligned to the filter tile go without them.
  const maxBinding = backend.capabilities.limits.maxStorageBufferBindingSize;
  const canWindow = !mapOnly && !!backend.capabilities.bindingRanges;
  const shapeFor = (tile: number) => chunkShape(N, V, o.scratchBytes, maxBinding, Math.max(FILTER_TILE, tile), Math.max(C.RANGE_ALIGNMENT, tile), canWindow);
  let { Nc, Vc } = shapeFor(boundTile);
  const useBounds = boundTile > 0 && 4 * Nc * Vc <= maxBinding;
  if (!useBounds) ({ Nc, Vc } = shapeFor(0));
  const h = C.Tensor.empty([Nc * Vc], 'f32', backend);
  const mask = C.Tensor.empty([tilesOf(Nc) * tilesOf(Vc)], 'i32', backend);
  const workspace = new Workspace(backend);
  // The chunk's token rows [n0, n0 + nc) of a [N, width] tensor: itself, or a binding window of it.
  const rowsOf = (t: Tensor, width: number, n0: number, nc: number): C.BufferArg => (nc === N ? t : C.bufferRange(t.buffer, n0 * width, nc * width));
  let firstColumns = true;
  for (const win of vocabWindows(c, bias ?? null, V, D)) {
    const local = localTargets(tgt, win.w0, win.Vw, o.ignoreIndex);
    // The forward saved this window's order (sorting never crosses a binding; map-only backends, gpu.js,
    // write gradients by row position and keep the vocabulary's own order) and its block bounds.
    const perm = windowSaved.shift()!;
    const tmax = boundTile ? windowSaved.shift()! : null;
    const bounds: BlockBounds | null = tmax && useBounds ? { tmax, tile: boundTile } : null;
    if (rankOne) {
      const part = columnSums(win.c, win.Vw, D, backend);
      colSum = colSum ? C.add(colSum, part) : part;
    }
    const dCb = win.window(dC, D);
    const dBiasB = dBias ? win.window(dBias, 1) : null;
    for (let v0 = 0; v0 < win.Vw; v0 += Vc) {
      const w = Math.min(Vc, win.Vw - v0);
      for (let n0 = 0; n0 < N; n0 += Nc) {
        const nc = Math.min(Nc, N - n0);
        const firstRows = n0 === 0;
        const eRows = rowsOf(e2d, D, n0, nc);
        const gRows = rowsOf(g, 1, n0, nc);
        // Problems written out in full, not spread from a common part: this runs per chunk.
        C.runVariant<GradBlockProblem>('cce.gradBlock', backend, {
          flags, e: eRows, c: win.c, bias: win.bias, N: nc, D, V: win.Vw, Vtotal: V, softcap: o.softcap,
          perm, lse: rowsOf(lse, 1, n0, nc), tgt: rowsOf(local, 1, n0, nc), h, mask, v0, Vc: w, ignoreIndex: LOCAL_IGNORED,
          smoothing: o.labelSmoothing, zLoss: o.zLoss, filterEps: o.filterEps, bounds, boundRow0: bounds ? n0 / boundTile : 0,
        });
        if (stats) {
          const used = C.slice(mask, [0], [tilesOf(nc) * tilesOf(w)]);
          stats.add(used, used.size);
          used.dispose();
        }
        const product = (operand: C.BufferArg, out: C.BufferArg, accumulate: boolean, smooth: Tensor | null): GradProductProblem =>
          ({ h, mask, g: gRows, perm, N: nc, D, v0, Vc: w, operand, out, accumulate, smooth, scratchBytes: o.scratchBytes, workspace });
        if (ctx.needsGrad[0]) C.runVariant<GradProductProblem>('cce.gradE', backend, product(win.c, rowsOf(dE, D, n0, nc), !firstColumns, null));
        if (ctx.needsGrad[1]) C.runVariant<GradProductProblem>('cce.gradC', backend, product(eRows, dCb, !firstRows, firstRows ? smoothC : null));
        if (dBiasB && ctx.needsGrad[3]) {
          if (mapOnly) C.runMap(gradBiasMapKernel(), dBiasB as Tensor, { h, g }, { N, v0, Vc: w });
          else dispatchFlat(backend, gradBiasKernel(!firstRows), w, { h, g: gRows, perm, out: dBiasB }, { N: nc, v0, smooth: 0 });
        }
      }
      firstColumns = false;
    }
  }
  workspace.dispose();
  let gradE: Tensor = C.reshape(dE, e.shape);
  if (colSum) gradE = C.add(gradE, C.mul(C.reshape(g, [...e.shape.slice(0, -1), 1]), C.mulScalar(colSum, -eps)));
  const gradBias = dBias && rankOne ? C.add(dBias, C.mulScalar(C.sum(g), -eps)) : dBias;
  return [ctx.needsGrad[0] ? gradE : null, ctx.needsGrad[1] ? dC : null, null, ...(bias ? [ctx.needsGrad[3] ? gradBias : null] : [])];
}

const definition: C.FusedOpDefinition<Attrs> = { name: 'linearCrossEntropy', forward, backward };

export interface LinearCrossEntropyResult {
  loss: Tensor;
  /** log Σ_v exp(logit) per token, with targets' shape. */
  lse: Tensor;
}

/**
 * The cross-entropy of `targets` under logits e Cᵀ (+ bias), without materialising the logits.
 * e [..., D], c [V, D], targets i32 [...] (e's leading dims). Returns the loss, or { loss, lse } with
 * returnLse.
 */
export function linearCrossEntropy(e: Tensor, c: Tensor, targets: Tensor, opts: LinearCrossEntropyOptions & { returnLse: true; filterStats?: FilterStats }): LinearCrossEntropyResult;
export function linearCrossEntropy(e: Tensor, c: Tensor, targets: Tensor, opts?: LinearCrossEntropyOptions & { returnLse?: false; filterStats?: FilterStats }): Tensor;
export function linearCrossEntropy(e: Tensor, c: Tensor, targets: Tensor, opts: LinearCrossEntropyOptions & { returnLse?: boolean; filterStats?: FilterStats } = {}): Tensor | LinearCrossEntropyResult {
  const { N, D, V, T } = checkShapes(e, c, targets, opts.bias);
  const o = resolveOptions(opts, { N, V });
  checkShift(o.shift, T);
  if (targets.hostValues) checkTargetValues(targets.hostValues, V, o.ignoreIndex, targets.shape[targets.rank - 1]!, o.shift);
  const flags: CceFlags = { bias: !!opts.bias, softcap: o.softcap > 0, smoothing: o.labelSmoothing > 0, zLoss: o.zLoss > 0 };
  const inputs = [e, c, targets, ...(opts.bias ? [opts.bias] : [])];
  const prepareBackward = C.isGradEnabled() && inputs.some((t) => t.requiresGrad);
  const boundTile = boundTileFor(o, flags, e.backend, prepareBackward);
  const attrs: Attrs = { o, N, D, V, flags, stats: opts.filterStats, prepareBackward, boundTile };
  const { output, saved, recorded } = C.applyFusedOp(definition, inputs, attrs);
  const lse = opts.returnLse ? C.noGrad(() => C.reshape(saved[0]!, targets.shape)) : null;
  if (!recorded) for (const t of saved) t.dispose(); // nothing will run the backward
  return lse ? { loss: output, lse } : output;
}
