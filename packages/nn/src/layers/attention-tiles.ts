// The 'tiles' variant of causalAttention (fused-attention.ts has the math), on core's block-product
// engine. A workgroup owns BM consecutive rows of one (batch, head) and walks the other side's rows in
// blocks of BN: query-owned kernels (forward, dq) the key blocks up to the diagonal, heaviest workgroups
// first; key-owned ones (dk, dv) the query blocks from the diagonal on. Per block, one or two score
// products (own rows x other rows over dh: q kᵀ, dO vᵀ) leave TM x TN scores with each invocation; they
// become weights W (BM x BN in workgroup memory, 0 wherever causality or T rules a pair out), and an
// accumulate product adds W x (the block's other rows, BN x dh) into the workgroup's BM x dh output.
// The forward turns its scores into probabilities in registers (an online softmax per row, see
// onlineSoftmax) before writing W. The products run one after another, so they share one staging.
// Needs dh % 4 == 0 (vec4 columns).
import * as C from '@cce/core';
import type { BlockProduct, BufferRef, Ex, Kernel, KernelBuilder, TileConfig } from '@cce/core';

/** A workgroup's own rows: 64 or 32. */
export interface TileShape {
  rows: number;
}
/**
 * Other-side rows a block. 64 would halve how often the own rows are restaged: at B=8 H=12 T=1024 dh=64
 * on the H200 the four kernels took 4.31 GPU ms against 5.39 at 32 (5.07 for the one-row-per-invocation
 * kernels before the engine), but lavapipe takes about 30 s to compile each of its kernels, which the CI
 * suite cannot afford; 32 until the test suite can leave those kernels to a GPU run.
 */
const BN = 32;
/** W's row stride: BN plus one float, so that the rows that neighbouring invocation groups write (4 apart) start in different banks. */
const WS = BN + 1;
/** -FLT_MAX: the running max before any key (a -inf score then weighs exp(-inf) = 0, not NaN). */
const LOWEST_F32 = -3.4028234663852886e38;

// Both products give each invocation the same TM = 4 own rows (rows ty * 4 .. + 3, ty = tid / 8): eight
// invocations a row, TN = BN / 8 score columns and dh / 8 output columns each. The forward relies on it.
/** Own rows x other rows, k over dh. */
const scoreConfig = (BM: number): TileConfig => ({ BM, BN, BK: 16, TM: 4, TN: BN / 8 });
/** Own rows x output columns (dh rounded up to 32), k over a block's other rows. */
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
  buf: Record<string, BufferRef>;
  /** The score products (their rows and columns are this invocation's pairs) and the accumulate product. */
  scores: BlockProduct[];
  acc: BlockProduct;
}

/** One of this invocation's TM x TN pairs in a block: own row, other row, and whether it counts. */
interface Pair {
  own: Ex;
  other: Ex;
  allowed: Ex;
}

/** The weights of this invocation's pairs ([r][c]) from the score products' raw sums, 0 where not allowed. */
type Weigh = (t: Tiles, pairs: Pair[][], raw: (r: number, c: number) => Ex[]) => Ex[][];

interface Plan {
  side: 'query' | 'key';
  /** f32 inputs (read by the score products, or per row), vec4 inputs (the accumulate product's rows). */
  inputs: string[];
  vecInputs: string[];
  /** The score products: [own rows, other rows] by input name. */
  scores: [string, string][];
  /** The vec4 input whose block rows W multiplies. */
  accumulate: string;
  /** Outputs: vec4 (the BM x dh block) and f32. */
  outputs: string[];
  scalarOutputs?: string[];
  /** Set up once before the walk: how a block's pairs are weighed, and the factor of each output row at the end. */
  begin(t: Tiles): { weigh: Weigh; end(): Ex[] | Ex | null };
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
    const p0 = b.var('p0', C.i32(0));
    const columns = C.columnsOf(b, buf[plan.accumulate]!, dhE, true, (k) => head0.add(p0).add(k));
    const staging = C.createStaging(b, 'st', [...scoreOperands.map(([A, B]): [TileConfig, C.ProductOperand, C.ProductOperand] => [sc, A, B]), [ac, weights, columns]]);
    const scores = scoreOperands.map(([A, B], i) => C.createBlockProduct(b, sc, A, B, `s${i}`, staging));
    const acc = C.createBlockProduct(b, ac, weights, columns, 'o', staging);
    const { weigh, end } = plan.begin({ b, T, scale, head0, first, buf, scores, acc });
    const t: Tiles = { b, T, scale, head0, first, buf, scores, acc };

    // The other side's blocks this workgroup needs (uniform across it): keys below the end of this query
    // tile, or queries from the start of this key tile on.
    const [from, to] = plan.side === 'query'
      ? [C.i32(0), b.let('blocks_to', T.min(first.add(BM)).add(BN - 1).div(BN))]
      : [b.let('blocks_from', first.div(BN)), b.let('blocks_to', T.add(BN - 1).div(BN))];
    b.for('blk', from, to, (blk) => {
      p0.set(blk.mul(BN));
      for (const sp of scores) {
        sp.zero();
        sp.product(head0.add(first), head0.add(p0), dhE);
      }
      const [s0] = scores;
      const pairs = s0!.rows.map((lr, r) => {
        const own = b.let(`own${r}`, first.add(lr));
        return s0!.cols.map((lc, c) => {
          const other = b.let(`oth${r}_${c}`, p0.add(lc));
          // Queries see keys up to themselves; rows past T see nothing (so that per-row reads stay in bounds).
          return { own, other, allowed: b.let(`ok${r}_${c}`, plan.side === 'query' ? other.le(own).and(own.lt(T)) : other.ge(own).and(other.lt(T))) };
        });
      });
      const w = weigh(t, pairs, (r, c) => scores.map((sp) => sp.acc(r, c)));
      s0!.rows.forEach((lr, r) => s0!.cols.forEach((lc, c) => W.store(lr.mul(WS).add(lc), w[r]![c]!)));
      b.barrier();
      acc.product(C.i32(0), C.i32(0), b.let('count', T.sub(p0).min(BN)));
    });

    const factor = end();
    const out = buf[plan.outputs[0]!]!;
    acc.rows.forEach((lr, r) => {
      const own = b.let(`row${r}`, first.add(lr));
      const f = Array.isArray(factor) ? factor[r]! : factor;
      b.if(own.lt(T), () => {
        for (let h = 0; h < ac.TN / 4; h++) {
          const col = acc.cols[h * 4]!;
          const v = f ? acc.acc4(r, h).mul(C.vec('vec4<f32>', f, f, f, f)) : acc.acc4(r, h);
          b.if(col.lt(dh), () => out.store(head0.add(own).mul(dh / 4).add(col.div(4)), v));
        }
      });
    });
  }));
}

/** Weights computed pair by pair (the backward's), with a constant factor on the output (or none). */
const pairwise = (weight: (t: Tiles, s: Ex[], p: Pair) => Ex, factor?: (t: Tiles) => Ex) => (t: Tiles) => ({
  weigh: ((tt, pairs, raw) => pairs.map((row, r) => row.map((p, c) => p.allowed.select(weight(tt, raw(r, c), p), C.f32(0))))) as Weigh,
  end: () => (factor ? factor(t) : null),
});

/**
 * The forward's online softmax. An invocation's pairs and its output rows are the same TM rows (the two
 * products have the same invocation grid), so each keeps a running max and a partial sum per row in
 * registers. Per block: the row's new maximum (over this invocation's allowed scores, then across the
 * invocations sharing the row through workgroup memory), the output rows and partial sums rescaled by
 * exp(old max - new max), and the weights exp(s - max). At the end the partial sums are added up the
 * same way. NaN scores never win a comparison and reach the sum through their weight; +inf wins and
 * gives exp(inf - inf) = NaN, as the composed softmax does.
 */
function onlineSoftmax(t: Tiles) {
  const { b, acc, scores: [s0] } = t;
  const TX = s0!.config.BN / s0!.config.TN;
  const red = b.workgroupArray('red', 'f32', acc.config.BM * TX);
  const tx = b.let('red_tx', acc.tid.mod(TX));
  const m = acc.rows.map((_, r) => b.var(`m${r}`, C.f32(LOWEST_F32)));
  const l = acc.rows.map((_, r) => b.var(`l${r}`, C.f32(0)));
  /** Per row, `init` combined with the TX invocations' `values` (workgroup memory, one barrier). */
  const acrossRow = (values: Ex[], init: Ex, step: (v: C.VarRef, x: Ex) => void): Ex[] => {
    acc.rows.forEach((lr, r) => red.store(lr.mul(TX).add(tx), values[r]!));
    b.barrier();
    return acc.rows.map((lr, r) => {
      const v = b.var(`row_red${r}`, init);
      for (let j = 0; j < TX; j++) step(v, red.at(lr.mul(TX).add(j)));
      return v;
    });
  };
  // Selects, not branches: sixteen small ifs a block made lavapipe's compile of this kernel take minutes.
  const raiseMax = (v: C.VarRef, x: Ex) => v.set(x.gt(v).select(x, v));
  const weigh: Weigh = (_t, pairs, raw) => {
    const s = pairs.map((row, r) => row.map((_p, c) => b.let(`sc${r}_${c}`, raw(r, c)[0]!.mul(t.scale))));
    const own = pairs.map((row, r) => {
      const v = b.var(`mt${r}`, C.f32(LOWEST_F32));
      row.forEach((p, c) => v.set(p.allowed.and(s[r]![c]!.gt(v)).select(s[r]![c]!, v)));
      return v;
    });
    const blockMax = acrossRow(own, C.f32(LOWEST_F32), raiseMax);
    return pairs.map((row, r) => {
      const mNew = b.let(`m_new${r}`, blockMax[r]!.gt(m[r]!).select(blockMax[r]!, m[r]!));
      const f = b.let(`corr${r}`, m[r]!.sub(mNew).exp());
      for (let h = 0; h < acc.config.TN / 4; h++) acc.acc4(r, h).set(acc.acc4(r, h).mul(C.vec('vec4<f32>', f, f, f, f)));
      const p = row.map((q, c) => b.let(`p${r}_${c}`, q.allowed.select(s[r]![c]!.sub(mNew).exp(), C.f32(0))));
      l[r]!.set(l[r]!.mul(f).add(p.reduce((x, y) => x.add(y))));
      m[r]!.set(mNew);
      return p;
    });
  };
  return {
    weigh,
    end() {
      const sums = acrossRow(l, C.f32(0), (v, x) => v.set(v.add(x)));
      acc.rows.forEach((lr, r) => {
        const pos = b.let(`lse_pos${r}`, t.first.add(lr));
        b.if(tx.eq(0).and(pos.lt(t.T)), () => t.buf.lse!.store(t.head0.add(pos), m[r]!.add(sums[r]!.log())));
      });
      return sums.map((x, r) => b.let(`inv${r}`, C.f32(1).div(x)));
    },
  };
}

/** out and lse, query-owned. */
export const forwardTiles = (dh: number, tile: TileShape): Kernel => attentionKernel('attn_fwd_tiles', dh, tile, {
  side: 'query', inputs: ['q', 'k'], vecInputs: ['v'], scores: [['q', 'k']], accumulate: 'v', outputs: ['out'], scalarOutputs: ['lse'],
  begin: onlineSoftmax,
});

/** p (dO·v - D) of a pair, with lse and D of query row `query`. */
function dsOf({ b, buf, head0, scale }: Tiles, [s, dp]: Ex[], query: Ex): Ex {
  const row = b.let('qrow', head0.add(query));
  return s!.mul(scale).sub(buf.lse!.at(row)).exp().mul(dp!.sub(buf.delta!.at(row)));
}

/** dq = scale Σ_j p_ij (dO_i·v_j - D_i) k_j, query-owned. */
export const dqTiles = (dh: number, tile: TileShape): Kernel => attentionKernel('attn_dq_tiles', dh, tile, {
  side: 'query', inputs: ['q', 'k', 'g', 'v', 'lse', 'delta'], vecInputs: ['k4'], scores: [['q', 'k'], ['g', 'v']], accumulate: 'k4', outputs: ['out'],
  begin: pairwise((t, s, p) => dsOf(t, s, p.own), (t) => t.scale),
});

/**
 * dk = scale Σ_i p_ij (dO_i·v_j - D_i) q_i (`which` 'k') or dv = Σ_i p_ij dO_i ('v'), key-owned: one
 * kernel each (fewer registers a kernel; the split measured faster with the per-row kernels before).
 */
export const dkvTiles = (dh: number, tile: TileShape, which: 'k' | 'v'): Kernel => attentionKernel(`attn_d${which}_tiles`, dh, tile, which === 'k'
  ? {
    side: 'key', inputs: ['k', 'q', 'v', 'g', 'lse', 'delta'], vecInputs: ['q4'], scores: [['k', 'q'], ['v', 'g']], accumulate: 'q4', outputs: ['out'],
    begin: pairwise((t, s, p) => dsOf(t, s, p.other), (t) => t.scale),
  }
  : {
    side: 'key', inputs: ['k', 'q', 'lse'], vecInputs: ['g4'], scores: [['k', 'q']], accumulate: 'g4', outputs: ['out'],
    begin: pairwise(({ buf, head0, scale }, [s], p) => s!.mul(scale).sub(buf.lse!.at(head0.add(p.other))).exp()),
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
