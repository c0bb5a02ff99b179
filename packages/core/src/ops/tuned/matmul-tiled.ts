// Tiled matmul in workgroup memory with register blocking: a workgroup computes a BM x BN tile of
// out[batch] = A' B', stepping through K in slices of BK. Each slice of A' (BK x BM) and B' (BK x BN) is
// staged in workgroup memory as vec4s (4 consecutive rows of A' / columns of B' per vec4), double
// buffered, so one barrier per slice suffices and the next slice's global loads are in flight while the
// current one is multiplied. Each invocation owns TM x TN outputs, held as (TM x TN / 4) vec4 registers:
// its rows are TM/4 groups of 4 spaced TY*4 apart, its columns TN/4 groups of 4 spaced TX*4 apart, so a
// subgroup's vec4 reads of workgroup memory are contiguous. Global loads follow each operand's memory
// order (coalesced), with vec4 loads where the contiguous dimension is a multiple of 4, and out-of-range
// elements read as 0, so any M, N, K works. Barriers sit in uniform control flow only.
import type { Backend } from '../../backend.js';
import { type Ex, type KernelBuilder, type VarRef, defineKernel, f32, i32, vec } from '../../ir/builder.js';
import type { Kernel } from '../../ir/types.js';
import { kernelFits } from '../../kernel-checks.js';
import { dispatchKernel, memoKernel } from '../launch.js';
import type { MatmulProblem } from '../matmul.js';
import { registerVariant } from '../variants.js';

export interface TileConfig {
  /** Output tile rows / columns per workgroup. */
  BM: number;
  BN: number;
  /** K slice staged per step. */
  BK: number;
  /** Outputs per invocation along rows / columns (multiples of 4). */
  TM: number;
  TN: number;
}

/** How the operands are stored and which of them are read as vec4. */
export interface TiledLayout {
  transA: boolean;
  transB: boolean;
  /** A' read as vec4 along M (transA, M % 4 == 0). */
  vecA: boolean;
  /** B' read as vec4 along N (!transB, N % 4 == 0). */
  vecB: boolean;
  /** out written as vec4 (N % 4 == 0). */
  vecOut: boolean;
}

export function tileThreads(c: TileConfig): number {
  return (c.BM / c.TM) * (c.BN / c.TN);
}

/** Why a tile configuration is malformed, or null. */
export function tileConfigError(c: TileConfig): string | null {
  const T = tileThreads(c);
  if (c.TM % 4 || c.TN % 4) return 'TM and TN must be multiples of 4';
  if (c.BM % c.TM || c.BN % c.TN) return 'BM and BN must be multiples of TM and TN';
  if (((c.BK * c.BM) / 4) % T || ((c.BK * c.BN) / 4) % T) return `BK*BM/4 and BK*BN/4 must be multiples of the ${T} invocations`;
  return null;
}

/** The layout flags a problem allows. */
export function tiledLayout(p: MatmulProblem): TiledLayout {
  return {
    transA: p.transA,
    transB: p.transB,
    vecA: p.transA && p.M % 4 === 0,
    vecB: !p.transB && p.N % 4 === 0,
    vecOut: p.N % 4 === 0,
  };
}

const layoutKey = (l: TiledLayout) =>
  `${l.transA ? 'T' : 'N'}${l.transB ? 'T' : 'N'}${l.vecA ? 'a4' : ''}${l.vecB ? 'b4' : ''}${l.vecOut ? 'o4' : ''}`;

export function tiledMatmulKernel(c: TileConfig, l: TiledLayout): Kernel {
  const key = `matmul:tiled:${c.BM}x${c.BN}x${c.BK}:${c.TM}x${c.TN}:${layoutKey(l)}`;
  return memoKernel(key, () => {
    const err = tileConfigError(c);
    if (err) throw new Error(`tiled matmul ${JSON.stringify(c)}: ${err}`);
    return defineKernel(`matmul_tiled_${c.BM}x${c.BN}x${c.BK}_${c.TM}x${c.TN}_${layoutKey(l)}`, { workgroupSize: tileThreads(c) }, (b) => buildTiled(b, c, l));
  });
}

function buildTiled(b: KernelBuilder, c: TileConfig, l: TiledLayout): void {
  const { BM, BN, BK, TM, TN } = c;
  const TX = BN / TN;
  const TY = BM / TM;
  const T = TX * TY;
  // Operand slices whose slots run fastest along K (A stored [M, K], B stored [N, K]) get one vec4 of
  // padding per K row, so that the transposing stores into workgroup memory avoid bank conflicts.
  const aAlongK = !l.transA;
  const bAlongK = l.transB;
  const SA = BM / 4 + (aAlongK ? 1 : 0);
  const SB = BN / 4 + (bAlongK ? 1 : 0);

  const A = b.input('a', l.vecA ? 'vec4<f32>' : 'f32');
  const B = b.input('b', l.vecB ? 'vec4<f32>' : 'f32');
  const out = b.output('out', l.vecOut ? 'vec4<f32>' : 'f32');
  const M = b.uniform('M', 'i32');
  const N = b.uniform('N', 'i32');
  const K = b.uniform('K', 'i32');
  const aBatch = b.uniform('a_bs', 'i32');
  const bBatch = b.uniform('b_bs', 'i32');
  const As = b.workgroupArray('As', 'vec4<f32>', 2 * BK * SA);
  const Bs = b.workgroupArray('Bs', 'vec4<f32>', 2 * BK * SB);

  const tid = b.let('tid', b.localIndex());
  const tx = b.let('tx', tid.mod(TX));
  const ty = b.let('ty', tid.div(TX));
  const row0 = b.let('row0', b.workgroupId(1).mul(BM));
  const col0 = b.let('col0', b.workgroupId(0).mul(BN));
  const batch = b.let('batch', b.workgroupId(2));
  const aBase = b.let('a_base', batch.mul(aBatch));
  const bBase = b.let('b_base', batch.mul(bBatch));

  // The slots (one vec4 of a slice each) this invocation loads: slot s = tid + j * T.
  interface Slot { kk: Ex; v4: Ex; store: Ex; rowsOk: Ex[]; offsets: Ex[]; vecOk?: Ex; vecIndex?: Ex }
  const slots = (name: string, tileCols: number, S: number, alongK: boolean, vecLoad: boolean, start: Ex, extent: Ex,
    base: Ex): Slot[] => {
    const count = (BK * tileCols) / 4 / T;
    return Array.from({ length: count }, (_, j) => {
      const s = j === 0 ? tid : tid.add(j * T);
      const kk = b.let(`${name}_kk${j}`, alongK ? s.mod(BK) : s.div(tileCols / 4));
      const v4 = b.let(`${name}_v${j}`, alongK ? s.div(BK) : s.mod(tileCols / 4));
      const store = b.let(`${name}_st${j}`, kk.mul(S).add(v4));
      const first = b.let(`${name}_i${j}`, start.add(v4.mul(4)));
      if (vecLoad) {
        // Element (i, k) of an operand stored K-major is at base + k * extent + i; as vec4 that is
        // (base / 4) + k * (extent / 4) + i / 4, with base and extent multiples of 4.
        return { kk, v4, store, rowsOk: [], offsets: [], vecOk: b.let(`${name}_ok${j}`, first.lt(extent)), vecIndex: b.let(`${name}_q${j}`, base.div(4).add(first.div(4))) };
      }
      const rowsOk: Ex[] = [];
      const offsets: Ex[] = [];
      for (let r = 0; r < 4; r++) {
        const i = r === 0 ? first : first.add(r);
        rowsOk.push(b.let(`${name}_ok${j}_${r}`, i.lt(extent)));
        // Stored [extent, K] (along K): row offset i * K; stored [K, extent]: column offset i.
        offsets.push(b.let(`${name}_o${j}_${r}`, alongK ? base.add(i.mul(K)) : base.add(i)));
      }
      return { kk, v4, store, rowsOk, offsets };
    });
  };
  // A' is M x K: stored [M, K] (along K) or [K, M] (transA). B' is K x N: stored [K, N] or [N, K] (transB).
  const aSlots = slots('a', BM, SA, aAlongK, l.vecA, row0, M, aBase);
  const bSlots = slots('b', BN, SB, bAlongK, l.vecB, col0, N, bBase);

  const loadSlot = (src: typeof A, slot: Slot, k0: Ex | null, alongK: boolean, extent: Ex): Ex => {
    const k = k0 ? k0.add(slot.kk) : slot.kk;
    const kOk = k.lt(K);
    if (slot.vecIndex) {
      return slot.vecOk!.and(kOk).select(src.at(slot.vecIndex.add(k.mul(extent.div(4)))), vec('vec4<f32>', 0, 0, 0, 0));
    }
    const parts = slot.offsets.map((off, r) => {
      // along K: element at off + k; K-major: at off + k * extent.
      const idx = alongK ? off.add(k) : off.add(k.mul(extent));
      return slot.rowsOk[r]!.and(kOk).select(src.at(idx), f32(0));
    });
    return vec('vec4<f32>', ...parts);
  };
  const loadA = (slot: Slot, k0: Ex | null) => loadSlot(A, slot, k0, aAlongK, M);
  const loadB = (slot: Slot, k0: Ex | null) => loadSlot(B, slot, k0, bAlongK, N);

  const zero4 = vec('vec4<f32>', 0, 0, 0, 0);
  const acc: VarRef[][][] = [];
  for (let g = 0; g < TM / 4; g++) {
    acc.push([]);
    for (let r = 0; r < 4; r++) {
      acc[g]!.push([]);
      for (let h = 0; h < TN / 4; h++) acc[g]![r]!.push(b.var(`acc${g * 4 + r}_${h}`, zero4));
    }
  }

  // Prologue: slice 0 into buffer 0.
  const ra = aSlots.map((s, j) => b.var(`ra${j}`, loadA(s, null)));
  const rb = bSlots.map((s, j) => b.var(`rb${j}`, loadB(s, null)));
  aSlots.forEach((s, j) => As.store(s.store, ra[j]!));
  bSlots.forEach((s, j) => Bs.store(s.store, rb[j]!));
  b.barrier();

  const tiles = b.let('tiles', K.add(BK - 1).div(BK));
  b.for('t', 0, tiles, (t) => {
    const cur = b.let('cur', t.bitAnd(1));
    const offA = b.let('off_a', cur.mul(BK * SA));
    const offB = b.let('off_b', cur.mul(BK * SB));
    const nextA = b.let('next_a', i32(BK * SA).sub(offA));
    const nextB = b.let('next_b', i32(BK * SB).sub(offB));
    const kNext = b.let('k_next', t.add(1).mul(BK));
    // Prefetch the next slice (past K it reads zeros, which are never used).
    aSlots.forEach((s, j) => ra[j]!.set(loadA(s, kNext)));
    bSlots.forEach((s, j) => rb[j]!.set(loadB(s, kNext)));
    for (let kk = 0; kk < BK; kk++) {
      const av = Array.from({ length: TM / 4 }, (_, g) => b.let(`a${kk}_${g}`, As.at(offA.add(kk * SA + g * TY).add(ty))));
      const bv = Array.from({ length: TN / 4 }, (_, h) => b.let(`b${kk}_${h}`, Bs.at(offB.add(kk * SB + h * TX).add(tx))));
      for (let g = 0; g < TM / 4; g++) {
        for (let r = 0; r < 4; r++) {
          const a = av[g]!.component(r);
          const splat = vec('vec4<f32>', a, a, a, a);
          for (let h = 0; h < TN / 4; h++) {
            const v = acc[g]![r]![h]!;
            v.set(v.add(splat.mul(bv[h]!)));
          }
        }
      }
    }
    aSlots.forEach((s, j) => As.store(nextA.add(s.store), ra[j]!));
    bSlots.forEach((s, j) => Bs.store(nextB.add(s.store), rb[j]!));
    b.barrier();
  });

  // Epilogue: write the TM x TN block.
  const outBase = b.let('out_base', batch.mul(M).mul(N));
  for (let g = 0; g < TM / 4; g++) {
    for (let r = 0; r < 4; r++) {
      const m = b.let(`m${g * 4 + r}`, row0.add(g * TY * 4 + r).add(ty.mul(4)));
      b.if(m.lt(M), () => {
        const rowOff = b.let(`row${g * 4 + r}`, outBase.add(m.mul(N)));
        for (let h = 0; h < TN / 4; h++) {
          const n = b.let(`n${g * 4 + r}_${h}`, col0.add(h * TX * 4).add(tx.mul(4)));
          const v = acc[g]![r]![h]!;
          if (l.vecOut) {
            b.if(n.lt(N), () => out.store(rowOff.add(n).div(4), v));
          } else {
            for (let j = 0; j < 4; j++) {
              const nj = j === 0 ? n : n.add(j);
              b.if(nj.lt(N), () => out.store(rowOff.add(nj), v.component(j)));
            }
          }
        }
      });
    }
  }
}

/** The layout that pads both operands' slices: the most workgroup memory a configuration can need. */
const MOST_PADDED: TiledLayout = { transA: false, transB: true, vecA: false, vecB: false, vecOut: false };

/** Whether `backend` can run configuration `c` at all, in any layout (features and limits). */
export function tiledFits(backend: Backend, c: TileConfig): boolean {
  return tileConfigError(c) === null && kernelFits(backend, tiledMatmulKernel(c, MOST_PADDED));
}

export function tiledGrid(p: MatmulProblem, c: TileConfig): [number, number, number] {
  const batch = p.out.size / (p.M * p.N);
  return [Math.ceil(p.N / c.BN), Math.ceil(p.M / c.BM), batch];
}

/** Runs configuration `c` on a problem (the variants below and the benchmark's tuning use it). */
export function runTiledMatmul(backend: Backend, p: MatmulProblem, c: TileConfig): void {
  // compile() refuses a kernel that needs more workgroup memory than the backend has, naming both.
  dispatchKernel(backend, tiledMatmulKernel(c, tiledLayout(p)), { a: p.a, b: p.b, out: p.out },
    { M: p.M, N: p.N, K: p.K, a_bs: p.aBatchStride, b_bs: p.bBatchStride }, tiledGrid(p, c));
}

/** The huge tile: 256 x 128 per workgroup of 256 invocations, 16 x 8 outputs each (the fastest measured at 4096^3). */
export const TILE_HUGE: TileConfig = { BM: 256, BN: 128, BK: 8, TM: 16, TN: 8 };
/** The large tile: 128 x 128 per workgroup of 256 invocations, 8 x 8 outputs each. */
export const TILE_LARGE: TileConfig = { BM: 128, BN: 128, BK: 8, TM: 8, TN: 8 };
/** The medium tile: 64 x 64 per workgroup of 256 invocations, 4 x 4 outputs each. */
export const TILE_MEDIUM: TileConfig = { BM: 64, BN: 64, BK: 16, TM: 4, TN: 4 };

const tileCount = (p: MatmulProblem, c: TileConfig) => tiledGrid(p, c).reduce((x, y) => x * y, 1);
const usable = (backend: Backend, p: MatmulProblem, c: TileConfig) =>
  tiledFits(backend, c) && tiledGrid(p, c).every((g) => g <= backend.capabilities.limits.maxWorkgroupsPerDimension)
  && p.out.size >= MIN_OUTPUTS;
/** Problems this small run as well on the map kernel (a few hundred outputs). */
const MIN_OUTPUTS = 1024;
/** A bigger tile is chosen once it still gives this many workgroups (a few per multiprocessor). */
const ENOUGH_TILES = { large: 64, huge: 256 };

// Any of the three runs any problem of at least MIN_OUTPUTS outputs (tests force each at odd sizes). The
// choice among them: the smaller tiles come first and step aside once the problem gives a bigger tile
// enough workgroups, and a bigger tile is only chosen where the device's limits admit it.
registerVariant<MatmulProblem>('matmul', {
  name: 'tiled-64x64',
  priority: 30,
  tuned: true,
  supports: (backend, p) => usable(backend, p, TILE_MEDIUM)
    && !(tiledFits(backend, TILE_LARGE) && tileCount(p, TILE_LARGE) >= ENOUGH_TILES.large),
  run: (backend, p) => runTiledMatmul(backend, p, TILE_MEDIUM),
});

registerVariant<MatmulProblem>('matmul', {
  name: 'tiled-128x128',
  priority: 20,
  tuned: true,
  supports: (backend, p) => usable(backend, p, TILE_LARGE)
    && !(tiledFits(backend, TILE_HUGE) && tileCount(p, TILE_HUGE) >= ENOUGH_TILES.huge),
  run: (backend, p) => runTiledMatmul(backend, p, TILE_LARGE),
});

registerVariant<MatmulProblem>('matmul', {
  name: 'tiled-256x128',
  priority: 10,
  tuned: true,
  supports: (backend, p) => usable(backend, p, TILE_HUGE),
  run: (backend, p) => runTiledMatmul(backend, p, TILE_HUGE),
});
