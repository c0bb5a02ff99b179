// The 'tiles' variant of causalAttention (fused-attention.ts has the math), on core's block-product
// engine. A workgroup owns BM consecutive rows of one (batch, head) and walks the other side's rows in
// blocks of BN: query-owned kernels (forward, dq) the key blocks up to the diagonal, heaviest workgroups
// first; key-owned ones (dk, dv) the query blocks from the diagonal on. Per block, one or two score
// products (own rows x other rows over dh: q kᵀ, dO vᵀ) leave TM x TN scores with each invocation; they
// become weights W (BM x BN in workgroup memory, 0 wherever causality or T rules a pair out), and an
// accumulate product adds W x (the block's other rows, BN x dh) into the workgroup's BM x dh output.
// The forward's online softmax scans each row of W in between (one invocation a row), turning scores
// into probabilities and rescaling the output rows by how much their running maximum grew. The
// products run one after another, so they share one staging. Needs dh % 4 == 0 (vec4 columns).
import * as C from '@cce/core';
import type { BlockProduct, BufferRef, Ex, Kernel, KernelBuilder, SharedRef, TileConfig } from '@cce/core';

/** A workgroup's own rows: 64 or 32. */
export interface TileShape {
  rows: number;
}
/** Other-side rows a block. */
const BN = 32;
/** W's row stride: one float of padding, so that the scan's reads down a column fall in distinct banks. */
const WS = BN + 1;
/** -FLT_MAX: the running max before any key (a -inf score then weighs exp(-inf) = 0, not NaN). */
const LOWEST_F32 = -3.4028234663852886e38;

/** Own rows x other rows, k over dh. */
const scoreConfig = (BM: number): TileConfig => ({ BM, BN, BK: 16, TM: 4, TN: 4 });
/** Own rows x output columns (dh rounded up to 32), k over a block's other rows; as many invocations. */
function accumulateConfig(BM: number, dh: number): TileConfig {
  const D = Math.ceil(dh / 32) * 32;
  return { BM, BN: D, BK: 16, TM: 4, TN: D / 8 };
}

interface Tiles {
  b: KernelBuilder;
  T: Ex;
  scale: Ex;
  /** The first row of this (batch, head), and of the workgroup's own rows within it. */
  head0: Ex;
  first: Ex;
  /** The other side's block: its first row (head-relative) and how many of its rows exist (<= BN). */
  p0: Ex;
  count: Ex;
  buf: Record<string, BufferRef>;
  W: SharedRef;
  acc: BlockProduct;
}

interface Plan {
  side: 'query' | 'key';
  /** f32 inputs (read by the score products, or per row), vec4 inputs (the accumulate product's rows). */
  inputs: string[];
  vecInputs: string[];
  /** The score products: [own rows, other rows] by input name. */
  scores: [string, string][];
  /** W of a pair that causality and T allow, from the score products' raw sums (own row `own`, other `other`). */
  weight(t: Tiles, s: Ex[], own: Ex, other: Ex): Ex;
  /** The vec4 input whose block rows W multiplies. */
  accumulate: string;
  /** Outputs: vec4 (the BM x dh block) and f32. */
  outputs: string[];
  scalarOutputs?: string[];
  /** Once before the walk; `scan` runs per block once W is in workgroup memory, before the accumulate product. */
  begin?(t: Omit<Tiles, 'p0' | 'count'>): { scan(t: Tiles): void; end(t: Omit<Tiles, 'p0' | 'count'>): Ex[] };
  /** Multiplies the output block (unless `begin` gives its own ending). */
  factor?(t: Omit<Tiles, 'p0' | 'count'>): Ex;
}

function attentionKernel(name: string, dh: number, { rows: BM }: TileShape, plan: Plan): Kernel {
  const sc = scoreConfig(BM);
  const ac = accumulateConfig(BM, dh);
  return C.memoKernel(`nn:${name}_${dh}_${BM}`, () => C.defineKernel(`${name}_d${dh}_${BM}`, { workgroupSize: C.tileThreads(sc) }, (b) => {
    const buf: Record<string, BufferRef> = {};
    for (const n of plan.inputs) buf[n] = b.input(n, 'f32');
    for (const n of plan.vecInputs) buf[n] = b.input(n, 'vec4<f32>');
    for (const n of plan.outputs) buf[n] = b.output(n, 'vec4<f32>');
    for (const n of plan.scalarOutputs ?? []) buf[n] = b.output(n, 'f32');
    const T = b.uniform('T', 'i32');
    const scale = b.uniform('scale', 'f32');
    const ownTiles = b.let('own_tiles', T.add(BM - 1).div(BM));
    // Query tiles late in the sequence see the most keys, key tiles early in it the most queries.
    const tile = b.let('tile', plan.side === 'query' ? ownTiles.sub(1).sub(b.workgroupId(0)) : b.workgroupId(0));
    const head0 = b.let('head0', b.workgroupId(1).mul(T));
    const first = b.let('first', tile.mul(BM));
    const headEnd = b.let('head_end', head0.add(T));
    const dhE = C.i32(dh);

    const W = b.workgroupArray('w', 'f32', BM * WS);
    const weights: C.ProductOperand = { along: 'k', row: (i) => ({ ok: i.lt(BM), at: (k) => W.at(i.mul(WS).add(k)) }) };
    const scoreOperands = plan.scores.map(([own, oth]) => [C.rowsOf(b, buf[own]!, headEnd, dhE), C.rowsOf(b, buf[oth]!, headEnd, dhE)] as const);
    // The accumulate product's B operand reads the current block's rows: p0 is set per block below.
    const p0Var = b.var('p0', C.i32(0));
    const columns = C.columnsOf(b, buf[plan.accumulate]!, dhE, true, (k) => head0.add(p0Var).add(k));
    const staging = C.createStaging(b, 'st', [...scoreOperands.map(([A, B]): [TileConfig, C.ProductOperand, C.ProductOperand] => [sc, A, B]), [ac, weights, columns]]);
    const sps = scoreOperands.map(([A, B], i) => C.createBlockProduct(b, sc, A, B, `s${i}`, staging));
    const acc = C.createBlockProduct(b, ac, weights, columns, 'o', staging);
    const base = { b, T, scale, head0, first, buf, W, acc };
    const hooks = plan.begin?.(base);

    // The other side's blocks this workgroup needs (uniform across it): keys below the end of this query
    // tile, or queries from the start of this key tile on.
    const [from, to] = plan.side === 'query'
      ? [C.i32(0), b.let('blocks_to', T.min(first.add(BM)).add(BN - 1).div(BN))]
      : [b.let('blocks_from', first.div(BN)), b.let('blocks_to', T.add(BN - 1).div(BN))];
    b.for('blk', from, to, (blk) => {
      const p0 = b.let('blk0', blk.mul(BN));
      p0Var.set(p0);
      const count = b.let('count', T.sub(p0).min(BN));
      const t: Tiles = { ...base, p0, count };
      for (const sp of sps) {
        sp.zero();
        sp.product(head0.add(first), head0.add(p0), dhE);
      }
      const [sp0] = sps;
      sp0!.rows.forEach((lr, r) => {
        const own = b.let(`own${r}`, first.add(lr));
        sp0!.cols.forEach((lc, c) => {
          const oth = b.let(`oth${r}_${c}`, p0.add(lc));
          // Queries see keys up to themselves; rows past T see nothing (so that per-row reads stay in bounds).
          const allowed = plan.side === 'query' ? oth.le(own).and(own.lt(T)) : oth.ge(own).and(oth.lt(T));
          W.store(lr.mul(WS).add(lc), allowed.select(plan.weight(t, sps.map((sp) => sp.acc(r, c)), own, oth), C.f32(0)));
        });
      });
      b.barrier();
      if (hooks) hooks.scan(t);
      acc.product(C.i32(0), C.i32(0), count);
    });

    const factors = hooks ? hooks.end(base) : null;
    const factor = plan.factor?.(base);
    const out = buf[plan.outputs[0]!]!;
    acc.rows.forEach((lr, r) => {
      const own = b.let(`row${r}`, first.add(lr));
      b.if(own.lt(T), () => {
        for (let h = 0; h < ac.TN / 4; h++) {
          const col = acc.cols[h * 4]!;
          const f = factors ? factors[r]! : factor;
          const v = f ? acc.acc4(r, h).mul(C.vec('vec4<f32>', f, f, f, f)) : acc.acc4(r, h);
          b.if(col.lt(dh), () => out.store(head0.add(own).mul(dh / 4).add(col.div(4)), v));
        }
      });
    });
  }));
}

/**
 * The forward's online softmax, one invocation per own row: per block, the row's new maximum over the
 * keys it sees, W's scores turned into probabilities exp(s - max) (0 past the diagonal and T), the running
 * sum rescaled, and the factor exp(old max - new max) left for every invocation to rescale its output
 * rows by. NaN scores never win a comparison and reach the sum through their probability; +inf wins and
 * gives exp(inf - inf) = NaN, as the composed softmax does.
 */
function onlineSoftmax(t: Omit<Tiles, 'p0' | 'count'>) {
  const { b, W, acc } = t;
  const BM = acc.config.BM;
  const corr = b.workgroupArray('corr', 'f32', BM);
  const sums = b.workgroupArray('sums', 'f32', BM);
  const tid = acc.tid;
  const scanner = b.let('scanner', tid.lt(BM));
  const pos = b.let('pos', t.first.add(tid));
  const m = b.var('m', C.f32(LOWEST_F32));
  const l = b.var('l', C.f32(0));
  return {
    scan({ p0, count }: Tiles) {
      b.if(scanner, () => {
        const seen = b.let('seen', pos.add(1).sub(p0).min(count));
        const mNew = b.var('m_new', m);
        b.for('j', 0, seen, (j) => {
          const s = b.let('s', W.at(tid.mul(WS).add(j)));
          b.if(s.gt(mNew), () => mNew.set(s));
        });
        const sum = b.var('sum', C.f32(0));
        b.for('j', 0, BN, (j) => {
          const at = b.let('w_at', tid.mul(WS).add(j));
          const p = b.let('p', j.lt(seen).select(W.at(at).sub(mNew).exp(), C.f32(0)));
          W.store(at, p);
          sum.set(sum.add(p));
        });
        const f = b.let('f', m.sub(mNew).exp());
        corr.store(tid, f);
        l.set(l.mul(f).add(sum));
        m.set(mNew);
      });
      b.barrier();
      acc.rows.forEach((lr, r) => {
        const f = b.let(`corr${r}`, corr.at(lr));
        for (let h = 0; h < acc.config.TN / 4; h++) acc.acc4(r, h).set(acc.acc4(r, h).mul(C.vec('vec4<f32>', f, f, f, f)));
      });
    },
    end({ buf }: Omit<Tiles, 'p0' | 'count'>) {
      b.if(scanner, () => {
        sums.store(tid, l);
        b.if(pos.lt(t.T), () => buf.lse!.store(t.head0.add(pos), m.add(l.log())));
      });
      b.barrier();
      return acc.rows.map((lr, r) => b.let(`inv${r}`, C.f32(1).div(sums.at(lr))));
    },
  };
}

/** out and lse, query-owned. */
export const forwardTiles = (dh: number, tile: TileShape): Kernel => attentionKernel('attn_fwd_tiles', dh, tile, {
  side: 'query', inputs: ['q', 'k'], vecInputs: ['v'], scores: [['q', 'k']], accumulate: 'v', outputs: ['out'], scalarOutputs: ['lse'],
  weight: (t, [s]) => s!.mul(t.scale),
  begin: onlineSoftmax,
});

/** dq = scale Σ_j p_ij (dO_i·v_j - D_i) k_j, query-owned. */
export const dqTiles = (dh: number, tile: TileShape): Kernel => attentionKernel('attn_dq_tiles', dh, tile, {
  side: 'query', inputs: ['q', 'k', 'g', 'v', 'lse', 'delta'], vecInputs: ['k4'], scores: [['q', 'k'], ['g', 'v']], accumulate: 'k4', outputs: ['out'],
  weight: ({ b, buf, head0, scale }, [s, dp], own) => {
    const row = b.let('qrow', head0.add(own));
    return s!.mul(scale).sub(buf.lse!.at(row)).exp().mul(dp!.sub(buf.delta!.at(row)));
  },
  factor: (t) => t.scale,
});

/**
 * dk = scale Σ_i p_ij (dO_i·v_j - D_i) q_i (`which` 'k') or dv = Σ_i p_ij dO_i ('v'), key-owned: one
 * kernel each (fewer registers a kernel; the split measured faster with the per-row kernels before).
 */
export const dkvTiles = (dh: number, tile: TileShape, which: 'k' | 'v'): Kernel => attentionKernel(`attn_d${which}_tiles`, dh, tile, which === 'k'
  ? {
    side: 'key', inputs: ['k', 'q', 'v', 'g', 'lse', 'delta'], vecInputs: ['q4'], scores: [['k', 'q'], ['v', 'g']], accumulate: 'q4', outputs: ['out'],
    weight: ({ b, buf, head0, scale }, [s, dp], _own, other) => {
      const row = b.let('qrow', head0.add(other));
      return s!.mul(scale).sub(buf.lse!.at(row)).exp().mul(dp!.sub(buf.delta!.at(row)));
    },
    factor: (t) => t.scale,
  }
  : {
    side: 'key', inputs: ['k', 'q', 'lse'], vecInputs: ['g4'], scores: [['k', 'q']], accumulate: 'g4', outputs: ['out'],
    weight: ({ buf, head0, scale }, [s], _own, other) => s!.mul(scale).sub(buf.lse!.at(head0.add(other))).exp(),
  });

/** The workgroup grid of a tiles kernel over BH heads of T rows. */
export const tilesGrid = (BH: number, T: number, tile: TileShape): [number, number, number] => [Math.ceil(T / tile.rows), BH, 1];

/**
 * The tile shape for BH heads of T rows: `rows` when given, else 64 rows a workgroup where that still
 * makes 1024 workgroups or more, 32 otherwise (more workgroups for short sequences).
 */
export function tileShape(BH: number, T: number, rows?: number): TileShape {
  return { rows: rows ?? (Math.ceil(T / 64) * BH >= 1024 ? 64 : 32) };
}
