// Pieces shared by the CCE kernels: build-time flags, the logit expression, the filtered gradient term.
import { type BufferRef, type Ex, type KernelBuilder, f32 } from '@cce/core';

/** What a kernel is specialised for (each combination is its own kernel; sizes are uniforms). */
export interface CceFlags {
  bias: boolean;
  softcap: boolean;
  smoothing: boolean;
  zLoss: boolean;
}

export const flagKey = (f: CceFlags) => `${+f.bias}${+f.softcap}${+f.smoothing}${+f.zLoss}`;

/** Token rows and vocabulary columns of one filter tile (the unit a skipped block covers). */
export const FILTER_TILE = 32;

/**
 * Where a running max of logits starts: finite, so that the online log-sum-exp's exp(m - m') never
 * computes -inf - -inf (NaN) before the first finite logit; a -inf logit still weighs exp(-inf) = 0.
 */
export const MAX_START = -3.0e38;

/** A block bound that never lets a block be skipped (a target inside, or no bound computed). */
export const BOUND_KEEP = 3.0e38;

export interface LogitInputs {
  e: BufferRef;
  c: BufferRef;
  bias: BufferRef | null;
  D: Ex;
  softcap: Ex | null;
}

/** Declares the inputs every logit needs: e [N, D], c [V, D], bias [V], D and softcap uniforms. */
export function declareLogitInputs(b: KernelBuilder, f: CceFlags): LogitInputs {
  return {
    e: b.input('e', 'f32'),
    c: b.input('c', 'f32'),
    bias: f.bias ? b.input('bias', 'f32') : null,
    D: b.uniform('D', 'i32'),
    softcap: f.softcap ? b.uniform('softcap', 'f32') : null,
  };
}

/**
 * Whether a filter term must be kept: not below eps, or NaN (a NaN must reach the gradients it touches;
 * an explicit test, since GPU compilers may assume no NaN in comparisons).
 */
export const keepsTerm = (x: Ex, eps: Ex) => x.lt(eps).not().or(x.isNan());

/**
 * The term of an ignored token: its loss is scaled by 0, which is 0 unless its logits hold a NaN (then
 * lse is NaN, and 0 * NaN is NaN, as the naive path gives it). So a NaN in c or the bias reaches every
 * row of dE, ignored ones included.
 */
export const ignoredTerm = (lse: Ex) => lse.isNan().select(lse, f32(0));

/** softcap * tanh(z / softcap) (the IR's tanh is finite for large arguments and keeps NaN on every backend). */
export const capped = (z: Ex, softcap: Ex) => softcap.mul(z.div(softcap).tanh());

/** The (softcapped) logit of token row `i` and vocabulary entry `v`, as a dot product over D. */
export function logitExpr(b: KernelBuilder, l: LogitInputs, i: Ex, v: Ex): Ex {
  const eBase = b.let('e_base', i.mul(l.D));
  const cBase = b.let('c_base', v.mul(l.D));
  const dot = b.var('dot', f32(0));
  b.for('k', 0, l.D, (k) => dot.set(dot.add(l.e.at(eBase.add(k)).mul(l.c.at(cBase.add(k))))));
  let z: Ex = dot;
  if (l.bias) z = z.add(l.bias.at(v));
  return l.softcap ? b.let('y', capped(z, l.softcap)) : b.let('y', z);
}

export interface GradTermInputs {
  lse: Ex;
  target: Ex;
  smoothing: Ex | null;
  zLoss: Ex | null;
  V: Ex;
  softcap: Ex | null;
}

/**
 * The gradient of one token's loss with respect to logit z (before the per-token scale): for
 * p = softmax, (p (1 + 2 zLoss lse) - (1 - ε) [v = t]) times the softcap derivative. Label smoothing's
 * -ε/V is rank one and added outside the tiles, except under softcap, where its derivative varies per
 * element and it joins the tile term.
 */
export function gradTerm(y: Ex, v: Ex, g: GradTermInputs): Ex {
  let p = y.sub(g.lse).exp();
  if (g.zLoss) p = p.mul(g.zLoss.mul(g.lse).mul(2).add(1));
  const hit = g.smoothing ? f32(1).sub(g.smoothing) : f32(1);
  let term = p.sub(v.eq(g.target).select(hit, f32(0)));
  if (g.softcap) {
    if (g.smoothing) term = term.sub(g.smoothing.div(g.V.toF32()));
    const t = y.div(g.softcap);
    term = term.mul(f32(1).sub(t.mul(t)));
  }
  return term;
}

export interface FilteredBlock {
  /** The chunk's softmax - onehot terms, [N, Vc] row-major. */
  h: BufferRef;
  /** 1 where a 32 x 32 filter tile (token tile, vocabulary tile) has a term >= eps. */
  mask: BufferRef;
  Vc: Ex;
}

/** Σ_j h[i, j] term(j) over the chunk's columns, skipping filter tiles the mask rules out (dE). */
export function sumOverVocabTiles(b: KernelBuilder, blk: FilteredBlock, i: Ex, term: (j: Ex) => Ex): Ex {
  const tilesV = b.let('tiles_v', blk.Vc.add(FILTER_TILE - 1).div(FILTER_TILE));
  const maskRow = b.let('mask_row', i.div(FILTER_TILE).mul(tilesV));
  const acc = b.var('acc', f32(0));
  b.for('tv', 0, tilesV, (tv) => {
    b.if(blk.mask.at(maskRow.add(tv)).ne(0), () => {
      const j0 = b.let('j0', tv.mul(FILTER_TILE));
      b.for('j', j0, j0.add(FILTER_TILE).min(blk.Vc), (j) => acc.set(acc.add(blk.h.at(i.mul(blk.Vc).add(j)).mul(term(j)))));
    });
  });
  return acc;
}

/** init + Σ_i h[i, j] term(i) over the N tokens, skipping filter tiles the mask rules out (dC). */
export function sumOverTokenTiles(b: KernelBuilder, blk: FilteredBlock, N: Ex, j: Ex, term: (i: Ex) => Ex, init: Ex = f32(0)): Ex {
  const tilesV = b.let('tiles_v', blk.Vc.add(FILTER_TILE - 1).div(FILTER_TILE));
  const tv = b.let('tv', j.div(FILTER_TILE));
  const acc = b.var('acc', init);
  b.for('tb', 0, N.add(FILTER_TILE - 1).div(FILTER_TILE), (tb) => {
    b.if(blk.mask.at(tb.mul(tilesV).add(tv)).ne(0), () => {
      const i0 = b.let('i0', tb.mul(FILTER_TILE));
      b.for('i', i0, i0.add(FILTER_TILE).min(N), (i) => acc.set(acc.add(blk.h.at(i.mul(blk.Vc).add(j)).mul(term(i)))));
    });
  });
  return acc;
}
