// The portable CCE kernels: one invocation per output element, loops and gather reads only, no
// workgroup memory. Every backend that runs kernels with indexed stores runs them; the reference
// interpreter checks the tuned kernels against them.
import { type Kernel, defineKernel, defineMapKernel, f32, i32, memoKernel, runtimeNaN } from '@cce/core';
import { type CceFlags, FILTER_TILE, MAX_START, declareLogitInputs, flagKey, gradTerm, ignoredTerm, keepsTerm, logitExpr, sumOverTokenTiles, sumOverVocabTiles } from './common.js';

const WG = 64;

/** tgt[i] = the target row i predicts: targets[i + shift] within its sequence, else ignoreIndex. */
export function effectiveTargetsKernel(): Kernel {
  return memoKernel('cce:targets', () =>
    defineMapKernel('cce_targets', { workgroupSize: WG, outputType: 'i32' },
      (b) => ({ targets: b.input('targets', 'i32'), T: b.uniform('T', 'i32'), shift: b.uniform('shift', 'i32'), ignore: b.uniform('ignore', 'i32') }),
      ({ b, index }, u) => {
        const v = b.var('t', u.ignore);
        b.if(index.mod(u.T).lt(u.T.sub(u.shift)), () => v.set(u.targets.at(index.add(u.shift))));
        return v;
      }));
}

/** part[s, i] = log Σ exp(y_iv) over the vocabulary split s: [s Vs, min(V, (s + 1) Vs)). */
export function lseSplitKernel(f: CceFlags): Kernel {
  return memoKernel(`cce:lse_split:${flagKey(f)}`, () =>
    defineMapKernel('cce_lse_split', { workgroupSize: WG, outputType: 'f32' },
      (b) => ({ l: declareLogitInputs(b, f), N: b.uniform('N', 'i32'), V: b.uniform('V', 'i32'), Vs: b.uniform('Vs', 'i32') }),
      ({ b, index }, u) => {
        const i = b.let('i', index.mod(u.N));
        const lo = b.let('lo', index.div(u.N).mul(u.Vs));
        const hi = b.let('hi', lo.add(u.Vs).min(u.V));
        const mx = b.var('mx', f32(MAX_START));
        const sum = b.var('sum', f32(0));
        b.for('v', lo, hi, (v) => {
          const y = logitExpr(b, u.l, i, v);
          const m2 = b.let('m2', mx.max(y));
          sum.set(sum.mul(mx.sub(m2).exp()).add(y.sub(m2).exp()));
          mx.set(m2);
        });
        return mx.add(sum.log());
      }));
}

/** lse[i] = log Σ_s exp(part[s, i]). */
export function lseCombineKernel(): Kernel {
  return memoKernel('cce:lse_combine', () =>
    defineMapKernel('cce_lse_combine', { workgroupSize: WG, outputType: 'f32' },
      (b) => ({ part: b.input('part', 'f32'), S: b.uniform('S', 'i32') }),
      ({ b, index }, u) => {
        const n = b.let('n', b.uniform('N', 'i32'));
        const mx = b.var('mx', u.part.at(index));
        b.for('s', 1, u.S, (s) => mx.set(mx.max(u.part.at(s.mul(n).add(index)))));
        const sum = b.var('sum', f32(0));
        b.for('s', 0, u.S, (s) => sum.set(sum.add(u.part.at(s.mul(n).add(index)).sub(mx).exp())));
        return mx.add(sum.log());
      }));
}

/** out[i] = y(i, tgt[i]) for a valid target, else 0 (an indexed dot product). */
export function targetLogitKernel(f: CceFlags): Kernel {
  return memoKernel(`cce:target_logit:${flagKey(f)}`, () =>
    defineMapKernel('cce_target_logit', { workgroupSize: WG, outputType: 'f32' },
      (b) => ({ l: declareLogitInputs(b, f), tgt: b.input('tgt', 'i32'), V: b.uniform('V', 'i32') }),
      ({ b, index }, u) => {
        const t = b.let('t', u.tgt.at(index));
        const out = b.var('out', f32(0));
        b.if(t.ge(0).and(t.lt(u.V)), () => out.set(logitExpr(b, u.l, index, t)));
        return out;
      }));
}

/** out[i] = Σ_v y_iv (label smoothing's mean over the vocabulary). */
export function logitSumKernel(f: CceFlags): Kernel {
  return memoKernel(`cce:logit_sum:${flagKey(f)}`, () =>
    defineMapKernel('cce_logit_sum', { workgroupSize: WG, outputType: 'f32' },
      (b) => ({ l: declareLogitInputs(b, f), V: b.uniform('V', 'i32') }),
      ({ b, index }, u) => {
        const acc = b.var('acc', f32(0));
        b.for('v', 0, u.V, (v) => acc.set(acc.add(logitExpr(b, u.l, index, v))));
        return acc;
      }));
}

/**
 * loss[i] = lse - (1 - ε) y_t - (ε / V) Σ_v y_v + zLoss lse² for a valid target, 0 for an ignored one,
 * and NaN for a target outside the vocabulary (device-side targets cannot be checked before the run).
 */
export function tokenLossKernel(f: CceFlags): Kernel {
  return memoKernel(`cce:token_loss:${flagKey(f)}`, () =>
    defineMapKernel('cce_token_loss', { workgroupSize: WG, outputType: 'f32' },
      (b) => ({
        lse: b.input('lse', 'f32'), yt: b.input('yt', 'f32'), tgt: b.input('tgt', 'i32'),
        sumy: f.smoothing ? b.input('sumy', 'f32') : null,
        V: b.uniform('V', 'i32'), ignore: b.uniform('ignore', 'i32'),
        eps: f.smoothing ? b.uniform('smoothing', 'f32') : null, z: f.zLoss ? b.uniform('z_loss', 'f32') : null,
      }),
      ({ b, index }, u) => {
        const t = b.let('t', u.tgt.at(index));
        const lse = b.let('l', u.lse.at(index));
        let loss = lse.sub(u.yt.at(index).mul(u.eps ? f32(1).sub(u.eps) : f32(1)));
        if (u.sumy && u.eps) loss = loss.sub(u.sumy.at(index).mul(u.eps.div(u.V.toF32())));
        if (u.z) loss = loss.add(u.z.mul(lse).mul(lse));
        const out = b.var('out', f32(0));
        // NaN marks a target outside the vocabulary (device-side targets cannot be checked before the run).
        b.if(t.ne(u.ignore), () => out.set(t.ge(0).and(t.lt(u.V)).select(loss, runtimeNaN(b, t))));
        return out;
      }));
}

export type ScaleMode = 'mean' | 'sum' | 'none';

/** g[i] = the upstream gradient of token i's loss: gOut / count (mean), gOut (sum), gOut[i] (none); 0 if ignored. */
export function tokenScaleKernel(mode: ScaleMode): Kernel {
  return memoKernel(`cce:token_scale:${mode}`, () =>
    defineMapKernel('cce_token_scale', { workgroupSize: WG, outputType: 'f32' },
      (b) => ({ gOut: b.input('g_out', 'f32'), count: b.input('valid_count', 'f32'), tgt: b.input('tgt', 'i32'), ignore: b.uniform('ignore', 'i32') }),
      ({ index }, u) => {
        const g = mode === 'none' ? u.gOut.at(index) : mode === 'sum' ? u.gOut.at(0) : u.gOut.at(0).div(u.count.at(0));
        return u.tgt.at(index).eq(u.ignore).select(f32(0), g);
      }));
}

/**
 * h[i, j] = the filtered gradient term of token i and vocabulary entry perm[v0 + j] (for an ignored
 * token, see ignoredTerm), over a chunk of Vc sorted entries: the scratch of softmax - onehot.
 */
export function gradBlockKernel(f: CceFlags): Kernel {
  return memoKernel(`cce:grad_block:${flagKey(f)}`, () =>
    defineMapKernel('cce_grad_block', { workgroupSize: WG, outputType: 'f32' },
      (b) => ({
        l: declareLogitInputs(b, f), perm: b.input('perm', 'i32'), lse: b.input('lse', 'f32'), tgt: b.input('tgt', 'i32'),
        V: b.uniform('V', 'i32'), v0: b.uniform('v0', 'i32'), Vc: b.uniform('Vc', 'i32'), ignore: b.uniform('ignore', 'i32'),
        eps: f.smoothing ? b.uniform('smoothing', 'f32') : null, z: f.zLoss ? b.uniform('z_loss', 'f32') : null,
      }),
      ({ b, index }, u) => {
        const i = b.let('i', index.div(u.Vc));
        const v = b.let('v', u.perm.at(u.v0.add(index.mod(u.Vc))));
        const t = b.let('t', u.tgt.at(i));
        const l = b.let('l', u.lse.at(i));
        const out = b.var('h', ignoredTerm(l));
        b.if(t.ne(u.ignore), () => {
          const y = logitExpr(b, u.l, i, v);
          out.set(gradTerm(y, v, { lse: l, target: t, smoothing: u.eps, zLoss: u.z, V: u.V, softcap: u.l.softcap }));
        });
        return out;
      }));
}

/** mask[tb, tv] = 1 when some |h| in filter tile (tb, tv) of the chunk reaches eps, else 0. */
export function tileMaskKernel(): Kernel {
  return memoKernel('cce:tile_mask', () =>
    defineMapKernel('cce_tile_mask', { workgroupSize: WG, outputType: 'i32' },
      (b) => ({ h: b.input('h', 'f32'), N: b.uniform('N', 'i32'), Vc: b.uniform('Vc', 'i32'), eps: b.uniform('eps', 'f32') }),
      ({ b, index }, u) => {
        const tilesV = b.let('tiles_v', u.Vc.add(FILTER_TILE - 1).div(FILTER_TILE));
        const i0 = b.let('i0', index.div(tilesV).mul(FILTER_TILE));
        const j0 = b.let('j0', index.mod(tilesV).mul(FILTER_TILE));
        const hit = b.var('hit', i32(0));
        b.for('i', i0, i0.add(FILTER_TILE).min(u.N), (i) => {
          b.for('j', j0, j0.add(FILTER_TILE).min(u.Vc), (j) => {
            b.if(keepsTerm(u.h.at(i.mul(u.Vc).add(j)).abs(), u.eps), () => hit.set(i32(1)));
          });
        });
        return hit;
      }));
}

/**
 * dE[i, d] = g_i Σ_j h[i, j] c[perm[v0 + j], d] over the chunk, skipping masked-out filter tiles; with
 * `accumulate` it adds to dE (later chunks), reading the output it owns.
 */
export function gradEKernel(accumulate: boolean): Kernel {
  return memoKernel(`cce:grad_e:${accumulate}`, () =>
    defineKernel(`cce_grad_e${accumulate ? '_acc' : ''}`, { workgroupSize: WG }, (b) => {
      const blk = { h: b.input('h', 'f32'), mask: b.input('mask', 'i32'), Vc: b.uniform('Vc', 'i32') };
      const c = b.input('c', 'f32');
      const g = b.input('g', 'f32');
      const perm = b.input('perm', 'i32');
      const out = b.output('out', 'f32');
      const D = b.uniform('D', 'i32');
      const v0 = b.uniform('v0', 'i32');
      b.indexBelow(b.uniform('count', 'i32'), (idx) => {
        const i = b.let('i', idx.div(D));
        const d = b.let('d', idx.mod(D));
        const delta = sumOverVocabTiles(b, blk, i, (j) => c.at(perm.at(v0.add(j)).mul(D).add(d))).mul(g.at(i));
        out.store(idx, accumulate ? out.at(idx).add(delta) : delta);
      });
    }));
}

/**
 * dC[perm[v0 + j], d] (+)= Σ_i g_i h[i, j] e[i, d] (+ smooth[d], label smoothing's rank-one term), skipping
 * masked-out filter tiles. The chunk's first token rows write; with `accumulate` later ones add, reading
 * the output they own.
 */
export function gradCKernel(smoothing: boolean, accumulate: boolean): Kernel {
  return memoKernel(`cce:grad_c:${smoothing}:${accumulate}`, () =>
    defineKernel(`cce_grad_c${accumulate ? '_acc' : ''}`, { workgroupSize: WG }, (b) => {
      const blk = { h: b.input('h', 'f32'), mask: b.input('mask', 'i32'), Vc: b.uniform('Vc', 'i32') };
      const e = b.input('e', 'f32');
      const g = b.input('g', 'f32');
      const perm = b.input('perm', 'i32');
      const smooth = smoothing ? b.input('smooth', 'f32') : null;
      const out = b.output('out', 'f32');
      const N = b.uniform('N', 'i32');
      const D = b.uniform('D', 'i32');
      const v0 = b.uniform('v0', 'i32');
      b.indexBelow(b.uniform('count', 'i32'), (idx) => {
        const j = b.let('j', idx.div(D));
        const d = b.let('d', idx.mod(D));
        const o = b.let('o', perm.at(v0.add(j)).mul(D).add(d));
        const init = accumulate ? out.at(o) : smooth ? smooth.at(d) : f32(0);
        out.store(o, sumOverTokenTiles(b, blk, N, j, (i) => g.at(i).mul(e.at(i.mul(D).add(d))), init));
      });
    }));
}

/** dBias[perm[v0 + j]] (+)= Σ_i g_i h[i, j] + smooth (label smoothing's -ε/V Σ_i g_i); adds with `accumulate`. */
export function gradBiasKernel(accumulate: boolean): Kernel {
  return memoKernel(`cce:grad_bias:${accumulate}`, () =>
    defineKernel(`cce_grad_bias${accumulate ? '_acc' : ''}`, { workgroupSize: WG }, (b) => {
      const h = b.input('h', 'f32');
      const g = b.input('g', 'f32');
      const perm = b.input('perm', 'i32');
      const out = b.output('out', 'f32');
      const count = b.uniform('count', 'i32');
      const N = b.uniform('N', 'i32');
      const v0 = b.uniform('v0', 'i32');
      const smooth = b.uniform('smooth', 'f32');
      b.indexBelow(count, (j) => {
        const o = b.let('o', perm.at(v0.add(j)));
        const acc = b.var('acc', accumulate ? out.at(o) : f32(0));
        b.for('i', 0, N, (i) => acc.set(acc.add(g.at(i).mul(h.at(i.mul(count).add(j))))));
        out.store(o, acc.add(smooth));
      });
    }));
}

/** idx[r] = r: the identity permutation (padded entries r >= V sort last). */
export function iotaKernel(): Kernel {
  return memoKernel('cce:iota', () =>
    defineMapKernel('cce_iota', { workgroupSize: WG, outputType: 'i32' }, () => null, ({ index }) => index));
}

/**
 * One compare-exchange pass of a bitonic sort of indices by key over a power-of-two length, in a total
 * order: real entries by descending key (ties, -inf among them, by index), then entries whose key is
 * NaN (by index), then padding (indices >= V, by index). Padding is ranked by its index alone, so no
 * key value can move it among the first V positions. Map-form: each position picks its element.
 */
export function bitonicPassKernel(): Kernel {
  return memoKernel('cce:bitonic', () =>
    defineMapKernel('cce_bitonic_pass', { workgroupSize: WG, outputType: 'i32' },
      (b) => ({ src: b.input('src', 'i32'), key: b.input('key', 'f32'), V: b.uniform('V', 'i32'), k: b.uniform('k', 'i32'), j: b.uniform('j', 'i32') }),
      ({ b, index }, u) => {
        const partner = b.let('partner', index.bitXor(u.j));
        const lowSide = b.let('low_side', index.lt(partner));
        const first = b.let('first', u.src.at(lowSide.select(index, partner)));
        const second = b.let('second', u.src.at(lowSide.select(partner, index)));
        // rank 0: a real key, 1: a NaN key, 2: padding.
        const rankOf = (x: typeof first) => {
          const key = b.var('key', f32(0));
          const rank = b.var('rank', i32(2));
          b.if(x.lt(u.V), () => {
            key.set(u.key.at(x));
            rank.set(key.isNan().select(i32(1), i32(0)));
          });
          return { key, rank };
        };
        const f = rankOf(first);
        const s = rankOf(second);
        const byKey = f.key.gt(s.key);
        const tiedKey = f.rank.ne(0).or(f.key.eq(s.key));
        // first ranks before second: a lower rank; or the same rank and, for real keys, a larger key;
        // otherwise (equal keys, NaN, padding) the smaller index.
        const sameRankBefore = f.rank.eq(0).and(byKey).or(tiedKey.and(first.lt(second)));
        const firstBefore = b.let('first_before', f.rank.lt(s.rank).or(f.rank.eq(s.rank).and(sameRankBefore)));
        const descending = b.let('descending', index.bitAnd(u.k).eq(0));
        const keepOrder = b.let('keep_order', firstBefore.eq(descending));
        const lo = b.let('lo', keepOrder.select(first, second));
        const hi = b.let('hi', keepOrder.select(second, first));
        return lowSide.select(lo, hi);
      }));
}

/** out[v] = c[v] · m (+ bias[v]): each vocabulary entry's logit for one hidden state (the mean). */
export function rowDotKernel(bias: boolean): Kernel {
  return memoKernel(`cce:row_dot:${bias}`, () =>
    defineMapKernel('cce_row_dot', { workgroupSize: WG, outputType: 'f32' },
      (b) => ({ c: b.input('c', 'f32'), m: b.input('m', 'f32'), bias: bias ? b.input('bias', 'f32') : null, D: b.uniform('D', 'i32') }),
      ({ b, index }, u) => {
        const base = b.let('base', index.mul(u.D));
        const acc = b.var('acc', u.bias ? u.bias.at(index) : f32(0));
        b.for('d', 0, u.D, (d) => acc.set(acc.add(u.c.at(base.add(d)).mul(u.m.at(d)))));
        return acc;
      }));
}

/** out[i] = src[i] * s, for a source that may be a window of a buffer (core ops take whole tensors). */
export function scaleKernel(): Kernel {
  return memoKernel('cce:scale', () =>
    defineMapKernel('cce_scale', { workgroupSize: WG, outputType: 'f32' },
      (b) => ({ src: b.input('src', 'f32'), s: b.uniform('s', 'f32') }),
      ({ index }, u) => u.src.at(index).mul(u.s)));
}

/**
 * out[s, d] = Σ c[v, d] over rows v in [s R, min(V, (s + 1) R)): column sums of row groups (label
 * smoothing's rank-one dE term; the column sums of e for sorting), summed again over the groups after.
 */
export function colSumKernel(): Kernel {
  return memoKernel('cce:col_sum', () =>
    defineMapKernel('cce_col_sum', { workgroupSize: WG, outputType: 'f32' },
      (b) => ({ c: b.input('c', 'f32'), V: b.uniform('V', 'i32'), D: b.uniform('D', 'i32'), R: b.uniform('R', 'i32') }),
      ({ b, index }, u) => {
        const d = b.let('d', index.mod(u.D));
        const lo = b.let('lo', index.div(u.D).mul(u.R));
        const acc = b.var('acc', f32(0));
        b.for('v', lo, lo.add(u.R).min(u.V), (v) => acc.set(acc.add(u.c.at(v.mul(u.D).add(d)))));
        return acc;
      }));
}

// Map-form gradient kernels for backends that run only map kernels (gpu.js). They need the identity
// permutation: a chunk is the contiguous rows [v0, v0 + Vc). Rows outside the chunk keep their value.

/** dE[i, d] = (old +) g_i Σ_j h[i, j] c[v0 + j, d], skipping masked-out filter tiles. */
export function gradEMapKernel(accumulate: boolean): Kernel {
  return memoKernel(`cce:grad_e_map:${accumulate}`, () =>
    defineMapKernel(`cce_grad_e_map${accumulate ? '_acc' : ''}`, { workgroupSize: WG, outputType: 'f32' },
      (b) => ({
        blk: { h: b.input('h', 'f32'), mask: b.input('mask', 'i32'), Vc: b.uniform('Vc', 'i32') },
        c: b.input('c', 'f32'), g: b.input('g', 'f32'), D: b.uniform('D', 'i32'), v0: b.uniform('v0', 'i32'),
      }),
      ({ b, index, out }, u) => {
        const i = b.let('i', index.div(u.D));
        const d = b.let('d', index.mod(u.D));
        const delta = sumOverVocabTiles(b, u.blk, i, (j) => u.c.at(u.v0.add(j).mul(u.D).add(d))).mul(u.g.at(i));
        return accumulate ? out.at(index).add(delta) : delta;
      }));
}

/** dC[v, d] for v in the chunk: Σ_i g_i h[i, v - v0] e[i, d] (+ smooth[d]); other rows keep their value. */
export function gradCMapKernel(smoothing: boolean): Kernel {
  return memoKernel(`cce:grad_c_map:${smoothing}`, () =>
    defineMapKernel('cce_grad_c_map', { workgroupSize: WG, outputType: 'f32' },
      (b) => ({
        blk: { h: b.input('h', 'f32'), mask: b.input('mask', 'i32'), Vc: b.uniform('Vc', 'i32') }, N: b.uniform('N', 'i32'),
        e: b.input('e', 'f32'), g: b.input('g', 'f32'), smooth: smoothing ? b.input('smooth', 'f32') : null,
        D: b.uniform('D', 'i32'), v0: b.uniform('v0', 'i32'),
      }),
      ({ b, index, out }, u) => {
        const j = b.let('j', index.div(u.D).sub(u.v0));
        const d = b.let('d', index.mod(u.D));
        const value = b.var('value', out.at(index));
        b.if(j.ge(0).and(j.lt(u.blk.Vc)), () => {
          value.set(sumOverTokenTiles(b, u.blk, u.N, j, (i) => u.g.at(i).mul(u.e.at(i.mul(u.D).add(d))), u.smooth ? u.smooth.at(d) : f32(0)));
        });
        return value;
      }));
}

/** dBias[v] for v in the chunk: Σ_i g_i h[i, v - v0]; other entries keep their value. */
export function gradBiasMapKernel(): Kernel {
  return memoKernel('cce:grad_bias_map', () =>
    defineMapKernel('cce_grad_bias_map', { workgroupSize: WG, outputType: 'f32' },
      (b) => ({ h: b.input('h', 'f32'), g: b.input('g', 'f32'), N: b.uniform('N', 'i32'), v0: b.uniform('v0', 'i32'), Vc: b.uniform('Vc', 'i32') }),
      ({ b, index, out }, u) => {
        const j = b.let('j', index.sub(u.v0));
        const value = b.var('value', out.at(index));
        b.if(j.ge(0).and(j.lt(u.Vc)), () => {
          const acc = b.var('acc', f32(0));
          b.for('i', 0, u.N, (i) => acc.set(acc.add(u.g.at(i).mul(u.h.at(i.mul(u.Vc).add(j))))));
          value.set(acc);
        });
        return value;
      }));
}
