// The tuned forward of CCE: the log-sum-exp of the logits E Cᵀ as workgroup blocks on core's
// block-product engine (the same computation as simple.ts's lseSplitKernel).
//
// Block bounds: a bounded forward walks the vocabulary in sorted order and records, per block of its
// own (BM tokens x BM sorted entries: the bound tile), the largest logit in it, or BOUND_KEEP where a
// token's target lies in it. Since softmax p_iv <= exp(max - lse_i), the backward's gradient block
// kernel (tiled-backward.ts) skips the logit recompute of a block whose bound shows every term below
// filterEps; its blocks may be smaller than the bound tile (a divisor of it), whose bound then covers them.
import { type Ex, type Kernel, type TileConfig, createBlockProduct, defineKernel, f32, i32, memoKernel, rowsOf, tileKey, tileThreads } from '@cce/core';
import { BOUND_KEEP, type CceFlags, MAX_START, capped, declareLogitInputs, flagKey } from './common.js';
import { gatheredRows } from './fetchers.js';

/**
 * part[s, i] = log Σ exp(y_iv) over vocabulary split s. Workgroup (x, y) = (token block, split): it walks
 * the split's vocabulary blocks keeping an online (max, sum) per owned row, then combines the partial
 * states of each row through workgroup memory. Bounded: entries are read through perm (Vs a multiple of
 * BM, so blocks line up with the backward's), and each block's bound goes to tmax[token block, block].
 */
export function tiledLseKernel(f: CceFlags, bounded: boolean, shape: TileConfig): Kernel {
  const T = tileThreads(shape);
  const { BM, BN, TN } = shape;
  const lanes = BN / TN; // invocations sharing each row
  return memoKernel(`cce:tiled_lse:${flagKey(f)}:${bounded}:${tileKey(shape)}`, () => defineKernel(`cce_tiled_lse${bounded ? '_bounded' : ''}`, { workgroupSize: T }, (b) => {
    const { e, c, bias, D, softcap } = declareLogitInputs(b, f);
    const perm = bounded ? b.input('perm', 'i32') : null;
    const tgt = bounded ? b.input('tgt', 'i32') : null;
    const part = b.output('out', 'f32');
    const tmax = bounded ? b.output('tmax', 'f32') : null;
    const N = b.uniform('N', 'i32');
    const V = b.uniform('V', 'i32');
    const Vs = b.uniform('Vs', 'i32');
    const row0 = b.let('row0', b.workgroupId(0).mul(BM));
    const lo = b.let('lo', b.workgroupId(1).mul(Vs));
    const hi = b.let('hi', lo.add(Vs).min(V));
    const eng = createBlockProduct(b, shape, rowsOf(b, e, N, D), gatheredRows(b, c, perm, i32(0), hi, D));
    const mx = eng.rows.map((_, r) => b.var(`mx${r}`, f32(MAX_START)));
    const sm = eng.rows.map((_, r) => b.var(`sm${r}`, f32(0)));
    // Bounded: the owned rows' block-local targets (an entry never equals them for rows past N), this
    // invocation's block maximum, and a workgroup reduction of it.
    const rowOk = bounded ? eng.rows.map((lr, r) => b.let(`row_ok${r}`, row0.add(lr).lt(N))) : [];
    const targets = tgt ? eng.rows.map((lr, r) => b.let(`t${r}`, rowOk[r]!.select(tgt.at(row0.add(lr).min(N.sub(1))), i32(-3)))) : [];
    const bmax = bounded ? b.var('bmax', f32(MAX_START)) : null;
    // Row states of every lane (also the block reduction's first stage: BM * lanes >= T), and per-row
    // maxima (also its second stage's 16 partial maxima).
    const states = b.workgroupArray('row_states', 'f32', BM * lanes);
    const rowMax = b.workgroupArray('row_max', 'f32', Math.max(BM, 16));
    b.for('vt', lo, hi, (col0) => {
      eng.zero();
      eng.product(row0, col0, D);
      // The block's logits of this invocation, then one online step per row for all of them: the row's
      // new maximum first, so each logit costs one exp.
      const inside = eng.cols.map((lc, j) => b.let(`in${j}`, col0.add(lc).lt(hi)));
      const ents = eng.cols.map((lc, j) => (perm || bias ? b.let(`ent${j}`, inside[j]!.select(perm ? perm.at(col0.add(lc)) : col0.add(lc), i32(0))) : null));
      const ys = eng.rows.map((_, r) => eng.cols.map((__, j) => {
        let z: Ex = eng.acc(r, j);
        if (bias) z = z.add(bias.at(ents[j]!));
        return b.let(`y${r}_${j}`, softcap ? capped(z, softcap) : z);
      }));
      eng.rows.forEach((_, r) => {
        const m2 = b.var('m2', mx[r]!);
        ys[r]!.forEach((y, j) => m2.set(inside[j]!.select(m2.max(y), m2)));
        const sum = b.var('sum', sm[r]!.mul(mx[r]!.sub(m2).exp()));
        ys[r]!.forEach((y, j) => sum.set(sum.add(inside[j]!.select(y.sub(m2).exp(), f32(0)))));
        sm[r]!.set(sum);
        mx[r]!.set(m2);
      });
      if (bmax) {
        bmax.set(f32(MAX_START));
        eng.rows.forEach((_, r) => ys[r]!.forEach((y, j) => {
          bmax.set(inside[j]!.and(rowOk[r]!).select(bmax.max(ents[j]!.eq(targets[r]!).select(f32(BOUND_KEEP), y)), bmax));
        }));
      }
      if (bmax && tmax) {
        // Block maximum over the workgroup: 16 partial maxima of T / 16 values each, then one.
        states.store(eng.tid, bmax);
        b.barrier();
        b.if(eng.tid.lt(16), () => {
          const m = b.var('bm', states.at(eng.tid.mul(T / 16)));
          b.for('q', 1, T / 16, (q) => m.set(m.max(states.at(eng.tid.mul(T / 16).add(q)))));
          rowMax.store(eng.tid, m);
        });
        b.barrier();
        b.if(eng.tid.eq(0), () => {
          const m = b.var('bm', rowMax.at(0));
          b.for('q', 1, 16, (q) => m.set(m.max(rowMax.at(q))));
          const cols = b.let('bound_cols', V.add(BM - 1).div(BM));
          tmax.store(b.workgroupId(0).mul(cols).add(col0.div(BM)), m);
        });
        b.barrier();
      }
    }, BN);
    // Combine the lanes that share each row: maxima first, then the sums rescaled to the row maximum.
    const lane = b.let('lane', eng.tid.mod(lanes));
    eng.rows.forEach((lr, r) => states.store(lr.mul(lanes).add(lane), mx[r]!));
    b.barrier();
    b.if(eng.tid.lt(BM), () => {
      const m = b.var('m', states.at(eng.tid.mul(lanes)));
      b.for('q', 1, lanes, (q) => m.set(m.max(states.at(eng.tid.mul(lanes).add(q)))));
      rowMax.store(eng.tid, m);
    });
    b.barrier();
    eng.rows.forEach((lr, r) => states.store(lr.mul(lanes).add(lane), sm[r]!.mul(mx[r]!.sub(rowMax.at(lr)).exp())));
    b.barrier();
    b.if(eng.tid.lt(BM).and(row0.add(eng.tid).lt(N)), () => {
      const s = b.var('s', f32(0));
      b.for('q', 0, lanes, (q) => s.set(s.add(states.at(eng.tid.mul(lanes).add(q)))));
      part.store(b.workgroupId(1).mul(N).add(row0).add(eng.tid), rowMax.at(eng.tid).add(s.log()));
    });
  }));
}
