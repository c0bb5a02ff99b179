// Matmul of f16 tensors on tensor cores: out[batch] = A' B' on the fragment engine (fragment-product.ts),
// f16 inputs, f32 accumulators, f32 or f16 results. Operands are read in memory order, four consecutive
// elements per load (as a vec4<f16> where the contiguous dimension is a multiple of 4, else four checked
// scalar loads), out-of-range elements as 0, so any M, N, K works. Where the block grid covers the
// output exactly (M and N multiples of the block) and the result is f32, whole fragments are stored
// straight to the output; otherwise every element passes through workgroup memory (bounds, f16 rounding).
import type { Backend } from '../../backend.js';
import { type BufferRef, type Ex, type KernelBuilder, defineKernel, lit, vec } from '../../ir/builder.js';
import type { FloatType, Kernel, SubgroupMatrixConfig } from '../../ir/types.js';
import { kernelFits } from '../../kernel-checks.js';
import { dispatchKernel, memoKernel } from '../launch.js';
import type { MatmulProblem } from '../matmul.js';
import { registerVariant } from '../variants.js';
import { type FragmentOperand, type FragmentTile, createFragmentProduct, fragmentKey, fragmentThreads, fragmentTileError } from './fragment-product.js';

/** How the operands are stored, which are read as vec4, and how the result is written. */
export interface FragmentLayout {
  transA: boolean;
  transB: boolean;
  /** A' read as vec4<f16> along its contiguous dimension (K, or M with transA; a multiple of 4). */
  vecA: boolean;
  vecB: boolean;
  /** Whole fragments stored straight to the output (M, N multiples of the block; f32 results). */
  direct: boolean;
}

export function fragmentLayout(p: MatmulProblem, t: FragmentTile): FragmentLayout {
  return {
    transA: p.transA,
    transB: p.transB,
    vecA: (p.transA ? p.M : p.K) % 4 === 0,
    vecB: (p.transB ? p.K : p.N) % 4 === 0,
    direct: p.M % t.BM === 0 && p.N % t.BN === 0 && t.matrix.result === 'f32' && p.out.dtype === 'f32',
  };
}

const layoutKey = (l: FragmentLayout) =>
  `${l.transA ? 'T' : 'N'}${l.transB ? 'T' : 'N'}${l.vecA ? 'a4' : ''}${l.vecB ? 'b4' : ''}${l.direct ? 'd' : ''}`;

export function fragmentMatmulKernel(t: FragmentTile, l: FragmentLayout, out: FloatType): Kernel {
  const key = `matmul:fragments:${fragmentKey(t)}:${layoutKey(l)}:${out}`;
  return memoKernel(key, () => defineKernel(`matmul_fragments_${fragmentKey(t)}_${layoutKey(l)}_${out}`, { workgroupSize: fragmentThreads(t) },
    (b) => buildFragments(b, t, l, out)));
}

/**
 * An f16 operand of `extent` rows stored [rows, K] (kMajor false: along 'k') or [K, rows] (kMajor true:
 * along 'rows') from `base`, read four consecutive elements of its contiguous dimension at a time
 * (`src` declared as vec4<f16> when `vec4`: the contiguous extent is then a multiple of 4).
 */
export function denseF16Operand(b: KernelBuilder, src: BufferRef, base: Ex, extent: Ex, K: Ex, kMajor: boolean, vec4: boolean): FragmentOperand {
  const zero = lit(0, 'f16');
  return {
    along: kMajor ? 'rows' : 'k',
    prepare: (i, name) => {
      // Along 'k': row i, elements k..k+3 at base + i K + k. Along 'rows': rows i..i+3 of k at base + k rows + i.
      const [inner, innerExtent] = kMajor ? [i, extent] : [lit(0, 'i32'), K];
      const rowOk = kMajor ? null : b.let(`${name}_ok`, i.lt(extent));
      const off = b.let(`${name}_o`, kMajor ? base.add(i) : base.add(i.mul(K)));
      if (vec4) {
        // All four exist or none (the contiguous extent is a multiple of 4).
        return (k) => {
          const ok = kMajor ? k.lt(K).and(i.lt(extent)) : rowOk!.and(k.lt(K));
          return ok.select(src.at(off.add(kMajor ? k.mul(extent) : k).div(4)), vec('vec4<f16>', 0, 0, 0, 0));
        };
      }
      return (k) => vec('vec4<f16>', ...[0, 1, 2, 3].map((e) => {
        const ok = kMajor ? k.lt(K).and(inner.add(e).lt(innerExtent)) : rowOk!.and(k.add(e).lt(K));
        return ok.select(src.at(kMajor ? off.add(k.mul(extent)).add(e) : off.add(k).add(e)), zero);
      }));
    },
  };
}

function buildFragments(b: KernelBuilder, t: FragmentTile, l: FragmentLayout, outType: FloatType): void {
  const A = b.input('a', l.vecA ? 'vec4<f16>' : 'f16');
  const B = b.input('b', l.vecB ? 'vec4<f16>' : 'f16');
  const out = b.output('out', outType);
  const M = b.uniform('M', 'i32');
  const N = b.uniform('N', 'i32');
  const K = b.uniform('K', 'i32');
  const aBatch = b.uniform('a_bs', 'i32');
  const bBatch = b.uniform('b_bs', 'i32');
  const row0 = b.let('row0', b.workgroupId(1).mul(t.BM));
  const col0 = b.let('col0', b.workgroupId(0).mul(t.BN));
  const batch = b.let('batch', b.workgroupId(2));
  // A' is M x K: stored [M, K] or [K, M] (transA). B' is K x N: stored [K, N] or [N, K] (transB).
  const eng = createFragmentProduct(b, t,
    denseF16Operand(b, A, b.let('a_base', batch.mul(aBatch)), M, K, l.transA, l.vecA),
    denseF16Operand(b, B, b.let('b_base', batch.mul(bBatch)), N, K, !l.transB, l.vecB));
  eng.product(row0, col0, K);
  const outBase = b.let('out_base', batch.mul(M).mul(N));
  if (l.direct) {
    eng.storeFragments(out, (r, c) => outBase.add(row0.add(r).mul(N)).add(col0).add(c), N);
    return;
  }
  eng.eachElement((r, c, v) => {
    const m = b.let('m', row0.add(r));
    const n = b.let('n', col0.add(c));
    b.if(m.lt(M).and(n.lt(N)), () => out.store(outBase.add(m.mul(N)).add(n), v.cast(outType)));
  });
}

/** The subgroup-matrix product a backend offers for f16 inputs with f32 accumulators, if any. */
export function f16AccumulateConfig(backend: Backend, M = 16, N = 16, K = 16): SubgroupMatrixConfig | undefined {
  return backend.capabilities.subgroupMatrixConfigs?.find((c) => c.component === 'f16' && c.result === 'f32' && c.M === M && c.N === N && c.K === K);
}

/** The fragment tile of this shape on `backend` (its 16x16x16 f16 -> f32 product and subgroup size), if it offers one. */
export function fragmentTileFor(backend: Backend, shape: Omit<FragmentTile, 'matrix' | 'subgroupSize'>): FragmentTile | undefined {
  const matrix = f16AccumulateConfig(backend);
  const caps = backend.capabilities;
  const subgroupSize = caps.subgroupMaxSize ?? caps.subgroupSize;
  return matrix && subgroupSize ? { ...shape, matrix, subgroupSize } : undefined;
}

/** The layout that pads nothing away and needs the scratch: the most workgroup memory a tile can need. */
const MOST: FragmentLayout = { transA: false, transB: false, vecA: false, vecB: false, direct: false };

/** Whether `backend` can run tile `t` (features, configuration, limits). */
export function fragmentsFit(backend: Backend, t: FragmentTile): boolean {
  return fragmentTileError(t) === null && kernelFits(backend, fragmentMatmulKernel(t, MOST, 'f32'));
}

export function fragmentGrid(p: MatmulProblem, t: Pick<FragmentTile, 'BM' | 'BN'>): [number, number, number] {
  return [Math.ceil(p.N / t.BN), Math.ceil(p.M / t.BM), p.out.size / (p.M * p.N)];
}

/** Runs tile `t` on an f16 problem (the variant below and the benchmark's tuning use it). */
export function runFragmentMatmul(backend: Backend, p: MatmulProblem, t: FragmentTile): void {
  dispatchKernel(backend, fragmentMatmulKernel(t, fragmentLayout(p, t), p.out.dtype as FloatType), { a: p.a, b: p.b, out: p.out },
    { M: p.M, N: p.N, K: p.K, a_bs: p.aBatchStride, b_bs: p.bBatchStride }, fragmentGrid(p, t));
}

/**
 * The tile core's matmul uses, the fastest measured on the H200 (BENCHMARKS.md): 256 x 128 per
 * workgroup, k slices of 32 staged once (two staging buffers would not fit 48 KiB), 4 x 2 subgroups of
 * 64 x 64 each (4 x 4 fragments of 16 x 16).
 */
export const FRAGMENT_TILE = { BM: 256, BN: 128, BK: 32, SM: 4, SN: 2, stages: 1 } as const;
/**
 * For grids of fewer than SMALL_GRID_WORKGROUPS blocks of FRAGMENT_TILE, which leave most of a large GPU
 * idle and wait on every slice: 128 x 128 blocks and slices of 64 (1024^3 on the H200: 0.038 ms against
 * 0.058; equal at 2048^3, where the large tile's grid is 128 blocks).
 */
export const SMALL_GRID_TILE = { BM: 128, BN: 128, BK: 64, SM: 2, SN: 4, stages: 1 } as const;
export const SMALL_GRID_WORKGROUPS = 128;

/** Core's two tiles on each backend, where it can run them (once per backend: matmul asks on every call). */
const coreTiles = new WeakMap<Backend, { large?: FragmentTile; small?: FragmentTile }>();
function coreTilesOf(backend: Backend): { large?: FragmentTile; small?: FragmentTile } {
  let tiles = coreTiles.get(backend);
  if (!tiles) {
    const usable = (shape: Omit<FragmentTile, 'matrix' | 'subgroupSize'>) => {
      const t = fragmentTileFor(backend, shape);
      return t && fragmentsFit(backend, t) ? t : undefined;
    };
    tiles = { large: usable(FRAGMENT_TILE), small: usable(SMALL_GRID_TILE) };
    coreTiles.set(backend, tiles);
  }
  return tiles;
}

/** The fragment tile core's matmul uses for problem `p` on `backend` (undefined where none fits). */
export function fragmentTileForProblem(backend: Backend, p: MatmulProblem): FragmentTile | undefined {
  const { large, small } = coreTilesOf(backend);
  const withinGrid = (t: FragmentTile | undefined) => t && fragmentGrid(p, t).every((g) => g <= backend.capabilities.limits.maxWorkgroupsPerDimension) ? t : undefined;
  const blocks = fragmentGrid(p, FRAGMENT_TILE).reduce((x, y) => x * y, 1);
  return (blocks < SMALL_GRID_WORKGROUPS ? withinGrid(small) : undefined) ?? withinGrid(large);
}

registerVariant<MatmulProblem>('matmul', {
  name: 'fragments',
  priority: 5,
  tuned: true,
  supports: (backend, p) => p.a.dtype === 'f16' && !!fragmentTileForProblem(backend, p),
  run: (backend, p) => runFragmentMatmul(backend, p, fragmentTileForProblem(backend, p)!),
});
