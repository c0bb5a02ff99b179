// The 'tiles' variant of causalAttention (fused-attention.ts has the math): a workgroup of `rows`
// invocations owns that many consecutive rows of one (batch, head), one row each, its dh values held as
// dh/4 vec4 registers. The other side's rows are staged `cols` at a time in workgroup memory (coalesced
// vec4 loads, each row loaded once for the whole workgroup, read back by every invocation at the same
// address). Query-owned kernels (forward, dq) walk the key tiles up to the diagonal, heaviest workgroups
// first; the key-owned kernels (dk, and dv) walk the query tiles from the diagonal on. Needs dh % 4 == 0.
import * as C from '@cce/core';
import type { Ex, Kernel, KernelBuilder, SharedRef } from '@cce/core';

/** A workgroup's own rows (one invocation each) and the other side's rows staged per tile. */
export interface TileShape {
  rows: number;
  cols: number;
}
/** Staged rows per tile, largest first (on the H200, 64 ran slower than 32: less occupancy). */
const TILE_COLS = [32, 16, 8, 4];
/** -FLT_MAX: the running max before any key (a -inf score then weighs exp(-inf) = 0, not NaN). */
const LOWEST_F32 = -3.4028234663852886e38;

type Vec4 = 'vec4<f32>';
const V4: Vec4 = 'vec4<f32>';
const splat = (x: Ex) => C.vec(V4, x, x, x, x);

/** Workgroup bytes of a kernel staging `rows` vec4 row arrays and `scalars` f32 arrays of `cols` rows. */
const stagedBytes = (dh: number, cols: number, rows: number, scalars: number) => cols * (rows * dh + scalars) * 4;

/** The staged rows per tile that fit in `maxBytes` for every tiles kernel, or null if none does. */
export function tileCols(dh: number, maxBytes: number): number | null {
  return TILE_COLS.find((c) => stagedBytes(dh, c, 2, 2) <= maxBytes) ?? null;
}

/**
 * The tile shape for BH heads of T rows of size dh on a backend with these limits (the caller has checked
 * that tileCols finds one), `rows` when given: else 64 rows a workgroup where that still makes 1024
 * workgroups or more (each staged row then serves twice the rows: 6.1 against 9.4 ms for B=8 H=12
 * T=1024 on the H200), 32 otherwise (more workgroups for short sequences: 0.61 against 0.92 ms at B=16
 * H=4 T=128).
 */
export function tileShape(BH: number, T: number, dh: number, limits: C.Limits, rows?: number): TileShape {
  const byShape = Math.ceil(T / 64) * BH >= 1024 && limits.maxInvocationsPerWorkgroup >= 64 ? 64 : 32;
  return { rows: rows ?? byShape, cols: tileCols(dh, limits.maxWorkgroupStorageSize)! };
}

/**
 * Σ over dh of regs · staged row `base`: the vec4 products summed as a balanced tree (a chain of dh / 4
 * dependent adds would leave each invocation waiting on latency: compilers may not reassociate float
 * sums), then the four lanes.
 */
function dot4(b: KernelBuilder, regs: Ex[], staged: SharedRef, base: Ex): Ex {
  let terms: Ex[] = regs.map((r, c) => r.mul(staged.at(c === 0 ? base : base.add(c))));
  while (terms.length > 1) terms = Array.from({ length: Math.ceil(terms.length / 2) }, (_, i) => (terms[2 * i + 1] ? terms[2 * i]!.add(terms[2 * i + 1]!) : terms[2 * i]!));
  const v = b.let('dot4', terms[0]!);
  return b.let('dot', v.x.add(v.y).add(v.z.add(v.w)));
}

interface Tiling {
  b: KernelBuilder;
  T: Ex;
  scale: Ex;
  /** This invocation's position in the sequence (< T only for live rows) and its row, clamped below T. */
  pos: Ex;
  live: Ex;
  row: Ex;
  /** The first row of this (batch, head). */
  head0: Ex;
  /** The dh / 4 vec4 registers of `buf`'s row `row`, times `factor`. */
  loadOwn(buf: C.BufferRef, name: string, factor?: Ex): Ex[];
  /** `acc`'s registers stored into `buf`'s row `row` (live rows only), times `factor`. */
  storeOwn(buf: C.BufferRef, acc: Ex[], factor?: Ex): void;
}

/**
 * A tiles kernel: vec4 inputs and outputs (`vecInputs`, `vecOutputs`), f32 ones (`scalarInputs`,
 * `scalarOutputs`), uniforms T and scale, workgroups (tile of rows, batch-head). `body` sets up its
 * registers, then calls `walk(stage, step)`: for each tile of the other side, `stage` names the vec4 and
 * f32 inputs to stage (rows [p0, p0 + cols)), and `step(jj, base, staged)` runs per staged row jj
 * (its vec4s start at base = jj * dh / 4) this invocation may see (keys j <= pos for a query row, queries i >= pos for a key row).
 */
function tilesKernel(name: string, dh: number, { rows: R, cols }: TileShape, side: 'query' | 'key',
  io: { vecInputs: string[]; scalarInputs: string[]; vecOutputs: string[]; scalarOutputs: string[] },
  body: (t: Tiling, buf: Record<string, C.BufferRef>,
    walk: (stage: { rows: string[]; scalars: string[] }, step: (jj: Ex, base: Ex, staged: Record<string, SharedRef>) => void) => void) => void): Kernel {
  const n4 = dh / 4;
  return C.memoKernel(`nn:${name}_${dh}_${R}x${cols}`, () => C.defineKernel(`${name}_d${dh}_${R}x${cols}`, { workgroupSize: R }, (b) => {
    const buf: Record<string, C.BufferRef> = {};
    for (const n of io.vecInputs) buf[n] = b.input(n, V4);
    for (const n of io.scalarInputs) buf[n] = b.input(n, 'f32');
    for (const n of io.vecOutputs) buf[n] = b.output(n, V4);
    for (const n of io.scalarOutputs) buf[n] = b.output(n, 'f32');
    const T = b.uniform('T', 'i32');
    const scale = b.uniform('scale', 'f32');
    const tid = b.let('tid', b.localIndex());
    const ownTiles = b.let('own_tiles', T.add(R - 1).div(R));
    // Query tiles late in the sequence see the most keys, key tiles early in it the most queries.
    const tile = b.let('tile', side === 'query' ? ownTiles.sub(1).sub(b.workgroupId(0)) : b.workgroupId(0));
    const head0 = b.let('head0', b.workgroupId(1).mul(T));
    const first = b.let('first', tile.mul(R));
    const pos = b.let('pos', first.add(tid));
    const live = b.let('live', pos.lt(T));
    const posC = b.let('pos_c', pos.min(T.sub(1)));
    const row = b.let('row', head0.add(posC));
    const t: Tiling = {
      b, T, scale, pos: posC, live, row, head0,
      loadOwn: (src, nm, factor) => Array.from({ length: n4 }, (_, c) => {
        const x = src.at(row.mul(n4).add(c));
        return b.let(`${nm}${c}`, factor ? x.mul(splat(factor)) : x);
      }),
      storeOwn: (dst, acc, factor) => b.if(live, () => acc.forEach((a, c) => dst.store(row.mul(n4).add(c), factor ? a.mul(splat(factor)) : a))),
    };
    const shared: Record<string, SharedRef> = {};
    const walk = (stage: { rows: string[]; scalars: string[] }, step: (jj: Ex, base: Ex, staged: Record<string, SharedRef>) => void) => {
      for (const n of stage.rows) shared[n] = b.workgroupArray(`${n}_s`, V4, cols * n4);
      for (const n of stage.scalars) shared[n] = b.workgroupArray(`${n}_s`, 'f32', cols);
      // The other side's tiles this workgroup needs (uniform across it): keys below the end of this
      // query tile, or queries from the start of this key tile on.
      const [from, to] = side === 'query'
        ? [C.i32(0), b.let('tiles_to', T.min(first.add(R)).add(cols - 1).div(cols))]
        : [b.let('tiles_from', first.div(cols)), b.let('tiles_to', T.add(cols - 1).div(cols))];
      b.for('t', from, to, (tt) => {
        const p0 = b.let('p0', tt.mul(cols));
        b.barrier(); // the previous tile's reads are done
        const stageSlots = (count: number, store: (slot: Ex) => void) => {
          for (let u = 0; u * R < count; u++) {
            const slot = b.let(`slot${u}`, tid.add(u * R));
            if ((u + 1) * R <= count) store(slot);
            else b.if(slot.lt(count), () => store(slot));
          }
        };
        stageSlots(cols * n4, (slot) => {
          // Rows past T repeat row T - 1: they are staged but never read.
          const src = b.let('src', head0.add(p0.add(slot.div(n4)).min(T.sub(1))).mul(n4).add(slot.mod(n4)));
          for (const n of stage.rows) shared[n]!.store(slot, buf[n]!.at(src));
        });
        stageSlots(cols, (slot) => {
          const src = b.let('src_s', head0.add(p0.add(slot).min(T.sub(1))));
          for (const n of stage.scalars) shared[n]!.store(slot, buf[n]!.at(src));
        });
        b.barrier();
        const [lo, hi] = side === 'query'
          ? [C.i32(0), b.let('jj_to', posC.add(1).sub(p0).min(cols))]
          : [b.let('jj_from', posC.sub(p0).max(0)), b.let('jj_to', T.sub(p0).min(cols))];
        b.for('jj', lo, hi, (jj) => step(jj, b.let('base', jj.mul(n4)), shared));
      });
    };
    body(t, buf, walk);
  }));
}

/** out and lse, query-owned: the online softmax, rescaling the accumulators only when the max grows. */
export const forwardTiles = (dh: number, tile: TileShape): Kernel =>
  tilesKernel('attn_fwd_tiles', dh, tile, 'query', { vecInputs: ['q', 'k', 'v'], scalarInputs: [], vecOutputs: ['out'], scalarOutputs: ['lse'] },
    (t, { q, out, lse }, walk) => {
      const { b } = t;
      const qr = t.loadOwn(q, 'q', t.scale);
      const m = b.var('m', C.f32(LOWEST_F32));
      const l = b.var('l', C.f32(0));
      const acc = Array.from({ length: dh / 4 }, (_, c) => b.var(`acc${c}`, splat(C.f32(0))));
      walk({ rows: ['k', 'v'], scalars: [] }, (_jj, jj4, { k, v }) => {
        const s = dot4(b, qr, k!, jj4);
        // NaN fails the test and reaches l through p; +inf passes it and gives exp(inf - inf) = NaN.
        b.if(s.gt(m), () => {
          const corr = b.let('corr', m.sub(s).exp());
          l.set(l.mul(corr));
          acc.forEach((a) => a.set(a.mul(splat(corr))));
          m.set(s);
        });
        const p = b.let('p', s.sub(m).exp());
        l.set(l.add(p));
        acc.forEach((a, c) => a.set(a.add(splat(p).mul(v!.at(jj4.add(c))))));
      });
      t.storeOwn(out, acc, b.let('inv', C.f32(1).div(l)));
      b.if(t.live, () => lse.store(t.row, m.add(l.log())));
    });

/** dq, query-owned. */
export const dqTiles = (dh: number, tile: TileShape): Kernel =>
  tilesKernel('attn_dq_tiles', dh, tile, 'query', { vecInputs: ['q', 'k', 'v', 'g'], scalarInputs: ['lse', 'delta'], vecOutputs: ['out'], scalarOutputs: [] },
    (t, { q, g, lse, delta, out }, walk) => {
      const { b } = t;
      const qr = t.loadOwn(q, 'q', t.scale);
      const gr = t.loadOwn(g, 'g');
      const L = b.let('L', lse.at(t.row));
      const D = b.let('D', delta.at(t.row));
      const acc = Array.from({ length: dh / 4 }, (_, c) => b.var(`acc${c}`, splat(C.f32(0))));
      walk({ rows: ['k', 'v'], scalars: [] }, (_jj, jj4, { k, v }) => {
        const p = b.let('p', dot4(b, qr, k!, jj4).sub(L).exp());
        const ds = b.let('ds', p.mul(dot4(b, gr, v!, jj4).sub(D)));
        acc.forEach((a, c) => a.set(a.add(splat(ds).mul(k!.at(jj4.add(c))))));
      });
      t.storeOwn(out, acc, t.scale);
    });

/**
 * dk (`which` 'k') or dv ('v'), key-owned: one kernel each, so an invocation holds 48 or 32 vec4
 * registers rather than 64 for both. That costs a second score per pair and pays: on the H200 at
 * B=8 H=12 T=1024 the two took 2.74 GPU ms against 3.50 for one kernel computing both.
 */
export const dkvTiles = (dh: number, tile: TileShape, which: 'k' | 'v'): Kernel =>
  tilesKernel(`attn_d${which}_tiles`, dh, tile, 'key', which === 'k'
    ? { vecInputs: ['q', 'k', 'v', 'g'], scalarInputs: ['lse', 'delta'], vecOutputs: ['out'], scalarOutputs: [] }
    : { vecInputs: ['q', 'k', 'g'], scalarInputs: ['lse'], vecOutputs: ['out'], scalarOutputs: [] },
    (t, { k, v, out }, walk) => {
      const { b } = t;
      const kr = t.loadOwn(k, 'k', t.scale);
      const vr = which === 'k' ? t.loadOwn(v, 'v') : [];
      const acc = Array.from({ length: dh / 4 }, (_, c) => b.var(`acc${c}`, splat(C.f32(0))));
      walk({ rows: ['q', 'g'], scalars: which === 'k' ? ['lse', 'delta'] : ['lse'] }, (jj, jj4, { q, g, lse, delta }) => {
        const p = b.let('p', dot4(b, kr, q!, jj4).sub(lse!.at(jj)).exp());
        if (which === 'v') {
          acc.forEach((a, c) => a.set(a.add(splat(p).mul(g!.at(jj4.add(c))))));
          return;
        }
        const ds = b.let('ds', p.mul(dot4(b, vr, g!, jj4).sub(delta!.at(jj))));
        acc.forEach((a, c) => a.set(a.add(splat(ds).mul(q!.at(jj4.add(c))))));
      });
      t.storeOwn(out, acc, which === 'k' ? t.scale : undefined);
    });

/** The workgroup grid of a tiles kernel over BH heads of T rows. */
export const tilesGrid = (BH: number, T: number, tile: TileShape): [number, number, number] => [Math.ceil(T / tile.rows), BH, 1];
