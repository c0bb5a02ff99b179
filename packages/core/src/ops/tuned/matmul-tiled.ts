// Tiled matmul: out[batch] = A' B' as the block-product engine's first user (block-product.ts holds the
// tiling, double buffering and register blocking). Its fetchers read each operand in memory order,
// whole vec4s where the contiguous dimension is a multiple of 4, and out-of-range elements as 0, so any
// M, N, K works; its epilogue writes the block, as vec4s where N is a multiple of 4.
import type { Backend } from '../../backend.js';
import { type Ex, type KernelBuilder, defineKernel } from '../../ir/builder.js';
import type { Kernel } from '../../ir/types.js';
import { dispatchKernel, memoKernel } from '../launch.js';
import type { MatmulProblem } from '../matmul.js';
import { registerVariant } from '../variants.js';
import { kernelFits } from '../../kernel-checks.js';
import { type ProductOperand, type TileConfig, createBlockProduct, tileConfigError, tileKey, tileThreads } from './block-product.js';

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
  const key = `matmul:tiled:${tileKey(c)}:${layoutKey(l)}`;
  return memoKernel(key, () => defineKernel(`matmul_tiled_${tileKey(c)}_${layoutKey(l)}`, { workgroupSize: tileThreads(c) }, (b) => buildTiled(b, c, l)));
}

/**
 * An operand of extent rows stored [rows, K] (kMajor false) or [K, rows] (kMajor true) from `base`,
 * read as vec4 (kMajor, rows a multiple of 4) when `vec4`.
 */
function denseOperand(b: KernelBuilder, src: ReturnType<KernelBuilder['input']>, base: Ex, extent: Ex, K: Ex, kMajor: boolean, vec4: boolean): ProductOperand {
  return {
    along: kMajor ? 'rows' : 'k',
    row: (i, name) => {
      // Stored [rows, K]: row i starts at i * K; stored [K, rows]: column i at i, then k * rows.
      const off = b.let(`${name}_o`, kMajor ? base.add(i) : base.add(i.mul(K)));
      return { ok: b.let(`${name}_ok`, i.lt(extent)), at: (k) => src.at(kMajor ? off.add(k.mul(extent)) : off.add(k)) };
    },
    quad: vec4 ? (i, name) => {
      // As vec4, element (i, k) of a K-major operand is (base / 4) + k * (extent / 4) + i / 4.
      const q = b.let(`${name}_q`, base.div(4).add(i.div(4)));
      return { ok: b.let(`${name}_ok`, i.lt(extent)), at: (k) => src.at(q.add(k.mul(extent.div(4)))) };
    } : undefined,
  };
}

function buildTiled(b: KernelBuilder, c: TileConfig, l: TiledLayout): void {
  const A = b.input('a', l.vecA ? 'vec4<f32>' : 'f32');
  const B = b.input('b', l.vecB ? 'vec4<f32>' : 'f32');
  const out = b.output('out', l.vecOut ? 'vec4<f32>' : 'f32');
  const M = b.uniform('M', 'i32');
  const N = b.uniform('N', 'i32');
  const K = b.uniform('K', 'i32');
  const aBatch = b.uniform('a_bs', 'i32');
  const bBatch = b.uniform('b_bs', 'i32');
  const row0 = b.let('row0', b.workgroupId(1).mul(c.BM));
  const col0 = b.let('col0', b.workgroupId(0).mul(c.BN));
  const batch = b.let('batch', b.workgroupId(2));
  // A' is M x K: stored [M, K] or [K, M] (transA). B' is K x N: stored [K, N] or [N, K] (transB).
  const eng = createBlockProduct(b, c,
    denseOperand(b, A, b.let('a_base', batch.mul(aBatch)), M, K, l.transA, l.vecA),
    denseOperand(b, B, b.let('b_base', batch.mul(bBatch)), N, K, !l.transB, l.vecB));
  eng.product(row0, col0, K);

  const outBase = b.let('out_base', batch.mul(M).mul(N));
  eng.rows.forEach((lr, r) => {
    const m = b.let(`m${r}`, row0.add(lr));
    b.if(m.lt(M), () => {
      const rowOff = b.let(`row${r}`, outBase.add(m.mul(N)));
      for (let h = 0; h < c.TN / 4; h++) {
        const n = b.let(`n${r}_${h}`, col0.add(eng.cols[h * 4]!));
        if (l.vecOut) {
          b.if(n.lt(N), () => out.store(rowOff.add(n).div(4), eng.acc4(r, h)));
        } else {
          for (let j = 0; j < 4; j++) {
            const nj = j === 0 ? n : n.add(j);
            b.if(nj.lt(N), () => out.store(rowOff.add(nj), eng.acc(r, h * 4 + j)));
          }
        }
      }
    });
  });
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
  p.a.dtype === 'f32' && tiledFits(backend, c) && tiledGrid(p, c).every((g) => g <= backend.capabilities.limits.maxWorkgroupsPerDimension)
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
