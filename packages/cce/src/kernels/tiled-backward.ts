// The tuned backward of CCE: the gradient block (logits E Cᵀ recomputed into softmax - onehot, with
// the filter mask), dE (h C) and dC (hᵀ E) as workgroup blocks on core's block-product engine (the same
// computations as simple.ts). Filter tiles (32 x 32) that the mask rules out are skipped slice by slice.
import {
  type Ex, type Kernel, type KernelBuilder, type ProductOperand, type TileConfig, columnsOf, createBlockProduct, defineKernel, f32, i32, memoKernel, rowsOf, tileKey,
  tileThreads,
} from '@cce/core';
import { type CceFlags, FILTER_TILE, capped, declareLogitInputs, flagKey, gradTerm, ignoredTerm, keepsTerm } from './common.js';
import { gatheredRows } from './fetchers.js';
/**
 * h[i, j] for the chunk (the gradient term of token i and entry perm[v0 + j]) and the filter mask of the
 * block's 32 x 32 tiles. Workgroup (x, y) = (chunk column block, token block). Bounded (boundTile > 0, a
 * multiple of BM; v0 a multiple of it): a block whose forward bound shows every term below eps skips its
 * product and writes zeros.
 */
export function tiledGradBlockKernel(f: CceFlags, boundTile: number, shape: TileConfig): Kernel {
  const bounded = boundTile > 0;
  if (boundTile % shape.BM) throw new Error(`cce gradient block: the bound tile ${boundTile} is not a multiple of the block side ${shape.BM}`);
  const T = tileThreads(shape);
  const { BM, TM, TN } = shape;
  const sub = BM / FILTER_TILE; // filter tiles per block side
  const groups = (TM / 4) * (TN / 4); // an invocation's 4 x 4 groups, each inside one filter tile
  return memoKernel(`cce:tiled_grad_block:${flagKey(f)}:${boundTile}:${tileKey(shape)}`, () => defineKernel(`cce_tiled_grad_block${bounded ? '_bounded' : ''}`, { workgroupSize: T }, (b) => {
    const { e, c, bias, D, softcap } = declareLogitInputs(b, f);
    const perm = b.input('perm', 'i32');
    const lse = b.input('lse', 'f32');
    const tgt = b.input('tgt', 'i32');
    const tmax = bounded ? b.input('tmax', 'f32') : null;
    const h = b.output('h', 'f32');
    const mask = b.output('mask', 'i32');
    const N = b.uniform('N', 'i32');
    const V = b.uniform('V', 'i32');
    const v0 = b.uniform('v0', 'i32');
    const Vc = b.uniform('Vc', 'i32');
    const ignore = b.uniform('ignore', 'i32');
    const eps = b.uniform('eps', 'f32');
    const smoothing = f.smoothing ? b.uniform('smoothing', 'f32') : null;
    const zLoss = f.zLoss ? b.uniform('z_loss', 'f32') : null;
    const col0 = b.let('col0', b.workgroupId(0).mul(BM));
    const row0 = b.let('row0', b.workgroupId(1).mul(BM));
    const eng = createBlockProduct(b, shape, rowsOf(b, e, N, D), gatheredRows(b, c, perm, v0, Vc, D));
    // keep: the block may hold a term >= eps (uniform: every invocation reads the same values).
    const keep = tmax ? b.var('keep', i32(0)) : null;
    if (tmax && keep) {
      const cols = b.uniform('bound_cols', 'i32');
      // The chunk's token rows start at block row bound_row0 of the forward's bounds.
      const boundRow0 = b.uniform('bound_row0', 'i32');
      const bound = b.let('bound', tmax.at(boundRow0.add(row0.div(boundTile)).mul(cols).add(v0.add(col0).div(boundTile))));
      b.for('bi', row0, row0.add(BM).min(N), (i) => {
        const li = b.let('li', lse.at(i));
        b.if(li.isNan(), () => keep.set(i32(1))); // an ignored token's NaN term too (see ignoredTerm)
        b.if(tgt.at(i).ne(ignore), () => {
          let worst: Ex = bound.sub(li).exp();
          if (zLoss) worst = worst.mul(zLoss.mul(li).mul(2).add(1).abs());
          b.if(keepsTerm(worst, eps), () => keep.set(i32(1)));
        });
      });
      b.if(keep.ne(0), () => eng.product(row0, col0, D));
    } else {
      eng.product(row0, col0, D);
    }
    // hit[q]: this invocation saw |h| >= eps in its 4 x 4 group q (rows group q / (TN / 4), columns q % (TN / 4)).
    const hit = Array.from({ length: groups }, (_, q) => b.var(`hit${q}`, i32(0)));
    eng.rows.forEach((lr, r) => {
      const i = b.let(`i${r}`, row0.add(lr));
      b.if(i.lt(N), () => {
        const t = b.let('t', tgt.at(i));
        const l = b.let('l', lse.at(i));
        eng.cols.forEach((lc, j) => {
          const col = b.let('j', col0.add(lc));
          b.if(col.lt(Vc), () => {
            const value = b.var('hv', ignoredTerm(l));
            b.if(keep ? t.ne(ignore).and(keep.ne(0)) : t.ne(ignore), () => {
              const v = b.let('v', perm.at(v0.add(col)));
              let z: Ex = eng.acc(r, j);
              if (bias) z = z.add(bias.at(v));
              const y = b.let('y', softcap ? capped(z, softcap) : z);
              value.set(gradTerm(y, v, { lse: l, target: t, smoothing, zLoss, V, softcap }));
            });
            h.store(i.mul(Vc).add(col), value);
            const q = Math.floor(r / 4) * (TN / 4) + Math.floor(j / 4);
            b.if(keepsTerm(value.abs(), eps), () => hit[q]!.set(i32(1)));
          });
        });
      });
    });
    const flags = b.workgroupArray('hits', 'i32', groups * T);
    hit.forEach((v, q) => flags.store(eng.tid.add(q * T), v));
    b.barrier();
    // Filter tile (tr, tc) of the block holds, per invocation row ty, the 4 x 4 groups of rows
    // [ty * 4 + g * TY * 4, +4) for g = tr * 32 / (TY * 4) and ty in [(tr * 8) % TY, +8); columns alike.
    const TY = BM / TM;
    const TX = shape.BN / TN;
    b.if(eng.tid.lt(sub * sub), () => {
      const tilesV = b.let('tiles_v', Vc.add(FILTER_TILE - 1).div(FILTER_TILE));
      const tr = b.let('tr', eng.tid.div(sub));
      const tc = b.let('tc', eng.tid.mod(sub));
      const tb = b.let('tb', row0.div(FILTER_TILE).add(tr));
      const tv = b.let('tv', col0.div(FILTER_TILE).add(tc));
      b.if(tb.lt(N.add(FILTER_TILE - 1).div(FILTER_TILE)).and(tv.lt(tilesV)), () => {
        const any = b.var('any', i32(0));
        const q = b.let('q', tr.mul(8).div(TY).mul(TN / 4).add(tc.mul(8).div(TX)));
        const ty0 = b.let('ty0', tr.mul(8).mod(TY));
        const tx0 = b.let('tx0', tc.mul(8).mod(TX));
        const gather = () => b.for('p', 0, 64, (p) => {
          const inv = b.let('inv', ty0.add(p.div(8)).mul(TX).add(tx0.add(p.mod(8))));
          any.set(any.bitOr(flags.at(q.mul(T).add(inv))));
        });
        if (keep) b.if(keep.ne(0), gather); // a skipped block has no hits
        else gather();
        mask.store(tb.mul(tilesV).add(tv), any);
      });
    });
  }));
}

/**
 * Whether any of the `count` filter tiles starting at block-side tile b0, against tile k on the other
 * side, is on (bounds-checked). alongRows: the block side is tokens (mask[b0 + q, k]); otherwise it is
 * the vocabulary (mask[k, b0 + q]).
 */
function maskAny(b: KernelBuilder, mask: { at(i: Ex): Ex }, b0: Ex, k: Ex, count: number, tilesB: Ex, tilesV: Ex, alongRows: boolean): Ex {
  const at = (tb: Ex, t: Ex) => b.let('mk', tb.lt(tilesB).and(t.lt(tilesV)).select(mask.at(tb.mul(tilesV).add(t).min(tilesB.mul(tilesV).sub(1))), i32(0)));
  let any: Ex = i32(0);
  for (let q = 0; q < count; q++) {
    const side = q === 0 ? b0 : b0.add(q);
    any = any.bitOr(alongRows ? at(side, k) : at(k, side));
  }
  return any.ne(0);
}

/**
 * Whether any filter tile is on between the block's side tiles [b0, b0 + count) and the other side's
 * tiles [kLo, kHi): a uniform test that lets a workgroup skip its whole product (mostly skipped chunks).
 */
function anyMaskOn(b: KernelBuilder, mask: { at(i: Ex): Ex }, b0: Ex, kLo: Ex, kHi: Ex, count: number, tilesB: Ex, tilesV: Ex, alongRows: boolean): Ex {
  const on = b.var('any_on', i32(0));
  b.for('kt', kLo, kHi, (k) => b.if(maskAny(b, mask, b0, k, count, tilesB, tilesV, alongRows), () => on.set(i32(1))));
  return on.ne(0);
}

/**
 * dE[i, d] (+)= g_i Σ_j h[i, j] c[perm[v0 + j], d]. Workgroup (x, y) = (D block, token block). vec4: c
 * read as vec4s (D a multiple of 4).
 */
export function tiledGradEKernel(accumulate: boolean, vec4: boolean, shape: TileConfig): Kernel {
  const { BM, BN } = shape;
  return memoKernel(`cce:tiled_grad_e:${accumulate}:${vec4}:${tileKey(shape)}`, () => defineKernel(`cce_tiled_grad_e${accumulate ? '_acc' : ''}${vec4 ? '_v4' : ''}`, { workgroupSize: tileThreads(shape) }, (b) => {
    const h = b.input('h', 'f32');
    const c = b.input('c', vec4 ? 'vec4<f32>' : 'f32');
    const g = b.input('g', 'f32');
    const perm = b.input('perm', 'i32');
    const mask = b.input('mask', 'i32');
    const out = b.output('out', 'f32');
    const N = b.uniform('N', 'i32');
    const D = b.uniform('D', 'i32');
    const v0 = b.uniform('v0', 'i32');
    const Vc = b.uniform('Vc', 'i32');
    const col0 = b.let('col0', b.workgroupId(0).mul(BN));
    const row0 = b.let('row0', b.workgroupId(1).mul(BM));
    const tilesB = b.let('tiles_b', N.add(FILTER_TILE - 1).div(FILTER_TILE));
    const tilesV = b.let('tiles_v', Vc.add(FILTER_TILE - 1).div(FILTER_TILE));
    // c's columns d, gathered per chunk entry j (k of this product).
    const eng = createBlockProduct(b, shape, rowsOf(b, h, N, Vc), columnsOf(b, c, D, vec4, (j) => perm.at(v0.add(j))));
    const tb0 = b.let('tb0', row0.div(FILTER_TILE));
    const anyOn = b.let('block_on', anyMaskOn(b, mask, tb0, i32(0), tilesV, BM / FILTER_TILE, tilesB, tilesV, true));
    b.if(anyOn, () => eng.product(row0, col0, Vc, { active: (k0) => maskAny(b, mask, tb0, k0.div(FILTER_TILE), BM / FILTER_TILE, tilesB, tilesV, true) }));
    // An accumulating pass adds nothing where every tile is off.
    const epilogue = () => {
      eng.rows.forEach((lr, r) => {
        const i = b.let(`i${r}`, row0.add(lr));
        b.if(i.lt(N), () => {
          const gi = b.let('gi', g.at(i));
          eng.cols.forEach((lc, j) => {
            const d = b.let('d', col0.add(lc));
            b.if(d.lt(D), () => {
              const idx = b.let('o', i.mul(D).add(d));
              const delta = eng.acc(r, j).mul(gi);
              out.store(idx, accumulate ? out.at(idx).add(delta) : delta);
            });
          });
        });
      });
    };
    if (accumulate) b.if(anyOn, epilogue);
    else epilogue();
  }));
}

/**
 * dC rows of the chunk, Σ_i g_i h[i, j] e[i, d], split over tokens: workgroup (x, y, z) = (D block, chunk
 * row block, token split z of `Ns` tokens); vec4: e read as vec4s (D a multiple of 4). With one split it writes dC[perm[v0 + j], d] (+ smooth[d]),
 * or adds to it (`accumulate`: later token rows of the chunk); with several it writes partial[z, j, d]
 * for gradCReduceKernel.
 */
export function tiledGradCKernel(smoothing: boolean, split: boolean, accumulate: boolean, vec4: boolean, shape: TileConfig): Kernel {
  const { BM, BN } = shape;
  const adds = accumulate && !split;
  return memoKernel(`cce:tiled_grad_c:${smoothing}:${split}:${adds}:${vec4}:${tileKey(shape)}`, () => defineKernel(`cce_tiled_grad_c${split ? '_split' : adds ? '_acc' : ''}${vec4 ? '_v4' : ''}`, { workgroupSize: tileThreads(shape) }, (b) => {
    const h = b.input('h', 'f32');
    const e = b.input('e', vec4 ? 'vec4<f32>' : 'f32');
    const g = b.input('g', 'f32');
    const perm = b.input('perm', 'i32');
    const mask = b.input('mask', 'i32');
    const smooth = smoothing && !split && !adds ? b.input('smooth', 'f32') : null;
    const out = b.output('out', 'f32');
    const N = b.uniform('N', 'i32');
    const D = b.uniform('D', 'i32');
    const v0 = b.uniform('v0', 'i32');
    const Vc = b.uniform('Vc', 'i32');
    const Ns = b.uniform('Ns', 'i32');
    const col0 = b.let('col0', b.workgroupId(0).mul(BN));
    const row0 = b.let('row0', b.workgroupId(1).mul(BM));
    const z = b.let('z', b.workgroupId(2));
    const tilesB = b.let('tiles_b', N.add(FILTER_TILE - 1).div(FILTER_TILE));
    const tilesV = b.let('tiles_v', Vc.add(FILTER_TILE - 1).div(FILTER_TILE));
    // hᵀ scaled by g (chunk entries j, over tokens i), and e's columns d (over tokens i).
    const scaledH: ProductOperand = {
      along: 'rows',
      row: (j, name) => ({ ok: b.let(`${name}_ok`, j.lt(Vc)), at: (i) => h.at(i.mul(Vc).add(j)).mul(g.at(i)) }),
    };
    const eng = createBlockProduct(b, shape, scaledH, columnsOf(b, e, D, vec4, (i) => i));
    const tv0 = b.let('tv0', row0.div(FILTER_TILE));
    const kBegin = b.let('k_begin', z.mul(Ns));
    const kEnd = b.let('k_end', kBegin.add(Ns).min(N));
    const anyOn = b.let('block_on', anyMaskOn(b, mask, tv0, kBegin.div(FILTER_TILE), kEnd.add(FILTER_TILE - 1).div(FILTER_TILE), BM / FILTER_TILE, tilesB, tilesV, false));
    b.if(anyOn, () => eng.product(row0, col0, kEnd, { kBegin, active: (k0) => maskAny(b, mask, tv0, k0.div(FILTER_TILE), BM / FILTER_TILE, tilesB, tilesV, false) }));
    eng.rows.forEach((lr, r) => {
      const j = b.let(`j${r}`, row0.add(lr));
      b.if(j.lt(Vc), () => {
        const rowBase = b.let('rbase', split ? z.mul(Vc).add(j).mul(D) : perm.at(v0.add(j)).mul(D));
        eng.cols.forEach((lc, q) => {
          const d = b.let('d', col0.add(lc));
          b.if(d.lt(D), () => {
            const o = b.let('o', rowBase.add(d));
            out.store(o, adds ? out.at(o).add(eng.acc(r, q)) : smooth ? eng.acc(r, q).add(smooth.at(d)) : eng.acc(r, q));
          });
        });
      });
    });
  }));
}

/** dC[perm[v0 + j], d] (+)= Σ_z partial[z, j, d] (+ smooth[d]); adds with `accumulate`. */
export function gradCReduceKernel(smoothing: boolean, accumulate: boolean): Kernel {
  return memoKernel(`cce:grad_c_reduce:${smoothing}:${accumulate}`, () => defineKernel(`cce_grad_c_reduce${accumulate ? '_acc' : ''}`, { workgroupSize: 64 }, (b) => {
    const partial = b.input('partial', 'f32');
    const perm = b.input('perm', 'i32');
    const smooth = smoothing && !accumulate ? b.input('smooth', 'f32') : null;
    const out = b.output('out', 'f32');
    const count = b.uniform('count', 'i32');
    const D = b.uniform('D', 'i32');
    const v0 = b.uniform('v0', 'i32');
    const splits = b.uniform('splits', 'i32');
    b.indexBelow(count, (idx) => {
      const o = b.let('o', perm.at(v0.add(idx.div(D))).mul(D).add(idx.mod(D)));
      const acc = b.var('acc', accumulate ? out.at(o) : smooth ? smooth.at(idx.mod(D)) : f32(0));
      b.for('z', 0, splits, (z) => acc.set(acc.add(partial.at(z.mul(count).add(idx)))));
      out.store(o, acc);
    });
  }));
}
