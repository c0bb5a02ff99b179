// linearCrossEntropy: the fused linear + cross-entropy op. The N x V logits never exist: the forward
// keeps an online log-sum-exp over vocabulary splits, the backward recomputes logits chunk by chunk into
// a bounded scratch block of softmax - onehot, skips filter tiles below filterEps, and accumulates
// dE, dC and dBias with one owner per output element (no float atomics).
import * as C from '@cce/core';
import type { Tensor } from '@cce/core';
import { type CceFlags, FILTER_TILE } from './kernels/common.js';
import {
  effectiveTargetsKernel, gradBiasKernel, logitSumKernel, lseCombineKernel, targetLogitKernel, tokenLossKernel, tokenScaleKernel,
} from './kernels/simple.js';
import { type LinearCrossEntropyOptions, type ResolvedOptions, checkShapes, checkTargetValues, resolveOptions } from './options.js';
import { identityPermutation, meanLogits, sortedPermutation } from './sort.js';
import {
  type GradBlockProblem, type GradProductProblem, type LogitProblem, type LseProblem,
  dispatchFlat, logitBuffers, logitUniforms, tilesOf,
} from './variants.js';

/** Counts filter tiles over backward passes (pass one in the options to collect). */
export class FilterStats {
  totalTiles = 0;
  private active: Tensor | null = null;

  /** @internal */
  add(mask: Tensor, tiles: number): void {
    this.totalTiles += tiles;
    const prev = this.active;
    this.active = C.keep(C.noGrad(() => {
      const s = C.cast(C.sum(mask), 'f32');
      const next = prev ? C.add(prev, s) : C.mulScalar(s, 1);
      s.dispose();
      return next;
    }));
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
  hasBias: boolean;
  stats?: FilterStats;
}

/** Vocabulary splits of the forward: enough independent work to fill a GPU, never an empty split. */
function splitsFor(N: number, V: number): { S: number; Vs: number } {
  const want = Math.max(1, Math.min(Math.ceil(65536 / Math.max(N, 1)), Math.ceil(V / 64)));
  const Vs = Math.ceil(V / want);
  return { S: Math.ceil(V / Vs), Vs };
}

function forward(inputs: Tensor[], a: Attrs): { output: Tensor; saved: Tensor[] } {
  const [e, c, targets, bias] = inputs as [Tensor, Tensor, Tensor, Tensor | undefined];
  const { o, N, D, V, flags } = a;
  const backend = e.backend;
  const lp: LogitProblem = { flags, e, c, bias: bias ?? null, N, D, V, softcap: o.softcap };
  const tgt = C.runMap(effectiveTargetsKernel(), C.Tensor.empty([N], 'i32', backend), { targets }, { T: targets.shape[targets.rank - 1]!, shift: o.shift, ignore: o.ignoreIndex });
  const { S, Vs } = splitsFor(N, V);
  const part = C.Tensor.empty([S, N], 'f32', backend);
  C.runVariant<LseProblem>('cce.lse', backend, { ...lp, part, S, Vs });
  const lse = C.runMap(lseCombineKernel(), C.Tensor.empty([N], 'f32', backend), { part }, { S, N });
  part.dispose();
  const yt = C.runMap(targetLogitKernel(flags), C.Tensor.empty([N], 'f32', backend), { ...logitBuffers(lp), tgt }, { ...logitUniforms(lp), V });
  const sumy = flags.smoothing ? C.runMap(logitSumKernel(flags), C.Tensor.empty([N], 'f32', backend), logitBuffers(lp), { ...logitUniforms(lp), V }) : null;
  const perToken = C.runMap(tokenLossKernel(flags), C.Tensor.empty([N], 'f32', backend), { lse, yt, tgt, ...(sumy ? { sumy } : {}) }, {
    V, ignore: o.ignoreIndex, ...(flags.smoothing ? { smoothing: o.labelSmoothing } : {}), ...(flags.zLoss ? { z_loss: o.zLoss } : {}),
  });
  yt.dispose();
  sumy?.dispose();
  const valid = C.compareScalar(tgt, 'ne', o.ignoreIndex);
  const count = C.maximum(C.sum(valid), C.full([], 1, { backend }));
  valid.dispose();
  let output: Tensor;
  if (o.reduction === 'none') output = C.reshape(perToken, targets.shape);
  else {
    const total = C.sum(perToken);
    output = o.reduction === 'sum' ? total : C.div(total, count);
    if (o.reduction === 'mean') total.dispose();
  }
  if (output !== perToken && o.reduction !== 'none') perToken.dispose();
  return { output, saved: [lse, tgt, count] };
}

/** Largest chunk of vocabulary entries (a multiple of the filter tile) whose N x Vc scratch fits. */
function chunkWidth(N: number, V: number, scratchBytes: number): number {
  const fit = Math.floor(scratchBytes / (4 * Math.max(N, 1)) / FILTER_TILE) * FILTER_TILE;
  return Math.min(Math.max(fit, FILTER_TILE), V);
}

function backward(gOut: Tensor, ctx: C.FusedBackwardContext<Attrs>): (Tensor | null)[] {
  const [e, c, , bias] = ctx.inputs as [Tensor, Tensor, Tensor, Tensor | undefined];
  const [lse, tgt, count] = ctx.saved as [Tensor, Tensor, Tensor];
  const { o, N, D, V, flags, stats } = ctx.attrs;
  const backend = e.backend;
  const lp: LogitProblem = { flags, e, c, bias: bias ?? null, N, D, V, softcap: o.softcap };
  const g = C.runMap(tokenScaleKernel(o.reduction), C.Tensor.empty([N], 'f32', backend), { g_out: gOut, valid_count: count, tgt }, { ignore: o.ignoreIndex });
  const perm = o.sortVocab && V > 1 ? C.scopeSync(() => sortedPermutation(meanLogits(C.reshape(e, [N, D]), c, bias ?? null), V)) : identityPermutation(V, backend);
  // Label smoothing's rank-one terms (without softcap): every dE row gets -ε/V g_i Σ_v c_v, every dC
  // row -ε/V Σ_i g_i e_i, every dBias entry -ε/V Σ_i g_i.
  const rankOne = flags.smoothing && !flags.softcap;
  const eps = o.labelSmoothing / V;
  const smoothC = rankOne ? C.scopeSync(() => C.mulScalar(C.reshape(C.matmul(C.reshape(g, [1, N]), C.reshape(e, [N, D])), [D]), -eps)) : null;
  const smoothBias = rankOne ? C.scopeSync(() => C.mulScalar(C.sum(g), -eps)) : null;

  const dE = C.Tensor.empty([N, D], 'f32', backend);
  const dC = C.Tensor.empty([V, D], 'f32', backend);
  const dBias = bias ? C.Tensor.empty([V], 'f32', backend) : null;
  const Vc = chunkWidth(N, V, o.scratchBytes);
  const h = C.Tensor.empty([N * Vc], 'f32', backend);
  const mask = C.Tensor.empty([tilesOf(N) * tilesOf(Vc)], 'i32', backend);
  for (let v0 = 0; v0 < V; v0 += Vc) {
    const w = Math.min(Vc, V - v0);
    C.runVariant<GradBlockProblem>('cce.gradBlock', backend, {
      ...lp, perm, lse, tgt, h, mask, v0, Vc: w, ignoreIndex: o.ignoreIndex,
      smoothing: o.labelSmoothing, zLoss: o.zLoss, filterEps: o.filterEps,
    });
    if (stats) {
      const used = C.slice(mask, [0], [tilesOf(N) * tilesOf(w)]);
      stats.add(used, used.size);
      used.dispose();
    }
    const common = { h, mask, g, perm, N, D, v0, Vc: w, scratchBytes: o.scratchBytes };
    if (ctx.needsGrad[0]) C.runVariant<GradProductProblem>('cce.gradE', backend, { ...common, operand: c, out: dE, accumulate: v0 > 0, smooth: null });
    if (ctx.needsGrad[1]) C.runVariant<GradProductProblem>('cce.gradC', backend, { ...common, operand: e, out: dC, accumulate: false, smooth: smoothC });
    if (dBias && ctx.needsGrad[3]) {
      dispatchFlat(backend, gradBiasKernel(), w, { h, g, perm, out: dBias }, { N, v0, smooth: 0 });
    }
  }
  h.dispose();
  mask.dispose();
  perm.dispose();
  let gradE: Tensor = C.reshape(dE, e.shape);
  if (rankOne) {
    const colSum = C.sum(c, 0);
    const withSmooth = C.add(gradE, C.mul(C.reshape(g, [...e.shape.slice(0, -1), 1]), C.mulScalar(colSum, -eps)));
    gradE.dispose();
    gradE = withSmooth;
  }
  let gradBias = dBias;
  if (dBias && smoothBias) gradBias = C.add(dBias, smoothBias);
  g.dispose();
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
  const o = resolveOptions(opts);
  const { N, D, V } = checkShapes(e, c, targets, opts.bias);
  if (targets.hostValues) checkTargetValues(targets.hostValues, V, o.ignoreIndex);
  const flags: CceFlags = { bias: !!opts.bias, softcap: o.softcap > 0, smoothing: o.labelSmoothing > 0, zLoss: o.zLoss > 0 };
  const inputs = [e, c, targets, ...(opts.bias ? [opts.bias] : [])];
  const { output, saved } = C.applyFusedOp(definition, inputs, { o, N, D, V, flags, hasBias: !!opts.bias, stats: opts.filterStats });
  if (!opts.returnLse) return output;
  return { loss: output, lse: C.noGrad(() => C.reshape(saved[0]!, targets.shape)) };
}
