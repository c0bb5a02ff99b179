// The fragment (tensor-core) block-product engine and core's f16 matmul on it, on the CPU reference,
// whose subgroup matrices run each subgroup's invocations in lockstep: every operand layout (NN, NT,
// TN, TT; vec4 and scalar loads; whole-fragment and per-element epilogues; f32 and f16 results;
// batched, broadcast, 0-sized, 1x1x1) at odd shapes, with two fragment configurations, two subgroup
// sizes and one and two staging buffers, against a float64 product. The data are multiples of 2^-8 in [-1, 1] and K stays below 128,
// so every f32 partial sum is exact: the f32 result must equal the float64 product, and an f16 result
// that product rounded once to f16. Then NaN and infinities, and the errors.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as C from '@cce/core';
import { oracleF16 } from './f16-oracle.js';

const s = suite('fragment matmul on the reference');

const configs = C.REFERENCE_MATRIX_CONFIGS;
const config = (M: number, N: number, K: number) => configs.find((c) => c.M === M && c.N === N && c.K === K && c.result === 'f32')!;
const TILES: C.FragmentTile[] = [
  { BM: 32, BN: 32, BK: 16, SM: 2, SN: 1, matrix: config(16, 16, 16), subgroupSize: 4 },
  { BM: 32, BN: 16, BK: 16, SM: 1, SN: 2, matrix: config(16, 8, 8), subgroupSize: 8 },
  { BM: 16, BN: 32, BK: 32, SM: 1, SN: 2, matrix: config(16, 16, 16), subgroupSize: 8, stages: 1 },
];

const data = (n: number, seed: number) => {
  const rng = C.mulberry32(seed);
  return Array.from({ length: n }, () => Math.round((rng() * 2 - 1) * 256) / 256);
};

/** out[b] = A'[b] B'[b] in float64, A' and B' read through the layouts as stored. */
function product(a: number[], b: number[], batch: number, M: number, N: number, K: number, transA: boolean, transB: boolean, bBatch = true): number[] {
  const out = new Array<number>(batch * M * N).fill(0);
  for (let t = 0; t < batch; t++) {
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let acc = 0;
        for (let k = 0; k < K; k++) {
          const x = a[t * M * K + (transA ? k * M + i : i * K + k)]!;
          const y = b[(bBatch ? t : 0) * K * N + (transB ? j * K + k : k * N + j)]!;
          acc += x * y;
        }
        out[(t * M + i) * N + j] = acc;
      }
    }
  }
  return out;
}

const same = (x: number, y: number) => x === y || (Number.isNaN(x) && Number.isNaN(y));
function expectEqual(what: string, got: ArrayLike<number>, want: number[]): void {
  assert.is(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    if (!same(got[i]!, want[i]!)) throw new Error(`${what}: element ${i} is ${got[i]}, the float64 product ${want[i]}`);
  }
}

const reference = (subgroupSize: number) => new C.CpuBackend({ subgroupSize, subgroupMatrixConfigs: configs });

const CASES = [
  { M: 64, N: 64, K: 48, transA: false, transB: false, result: 'f32', batch: 1 }, // whole fragments stored, vec4 loads
  { M: 37, N: 45, K: 29, transA: false, transB: false, result: 'f32', batch: 1 }, // scalar loads of both
  { M: 36, N: 20, K: 24, transA: false, transB: true, result: 'f32', batch: 1 }, // vec4 loads, per-element epilogue
  { M: 33, N: 17, K: 19, transA: true, transB: false, result: 'f16', batch: 1 },
  { M: 31, N: 33, K: 15, transA: true, transB: true, result: 'f32', batch: 2 },
  { M: 32, N: 32, K: 36, transA: true, transB: true, result: 'f32', batch: 3 }, // direct, batched
  { M: 1, N: 1, K: 1, transA: false, transB: false, result: 'f32', batch: 1 },
  { M: 5, N: 7, K: 0, transA: false, transB: false, result: 'f16', batch: 1 }, // no k slice: zeros
] as const;

for (const tile of TILES) {
  for (const c of CASES) {
    const lay = `${c.transA ? 'T' : 'N'}${c.transB ? 'T' : 'N'}`;
    s(`${C.fragmentKey(tile)} ${lay} ${c.batch}x[${c.M}, ${c.K}] x [${c.K}, ${c.N}] -> ${c.result} equals the float64 product`, async () => {
      const be = reference(tile.subgroupSize);
      const a = data(c.batch * c.M * c.K, c.M + c.K);
      const b = data(c.batch * c.K * c.N, c.N + 3);
      const lead = c.batch > 1 ? [c.batch] : [];
      const ta = C.tensor(a, [...lead, ...(c.transA ? [c.K, c.M] : [c.M, c.K])], { dtype: 'f16', backend: be });
      const tb = C.tensor(b, [...lead, ...(c.transB ? [c.N, c.K] : [c.K, c.N])], { dtype: 'f16', backend: be });
      const out = C.Tensor.empty([...lead, c.M, c.N], c.result, be, 'test');
      const p = { a: ta, b: tb, out, M: c.M, N: c.N, K: c.K, transA: c.transA, transB: c.transB, aBatchStride: c.batch > 1 ? c.M * c.K : 0, bBatchStride: c.batch > 1 ? c.K * c.N : 0 };
      const layout = C.fragmentLayout(p, tile);
      assert.is(layout.direct, c.M % tile.BM === 0 && c.N % tile.BN === 0 && c.result === 'f32');
      C.runFragmentMatmul(be, p, tile);
      const want = product(a, b, c.batch, c.M, c.N, c.K, c.transA, c.transB);
      expectEqual(`${lay} ${JSON.stringify(layout)}`, await out.read(), c.result === 'f16' ? want.map(oracleF16) : want);
    });
  }
}

s("core's matmul runs f16 operands on the fragment variant where the backend has subgroup matrices, with broadcast batches and 0-sized shapes", async () => {
  const be = reference(8);
  const [M, N, K] = [130, 67, 40];
  const a = data(2 * M * K, 1);
  const b = data(K * N, 2);
  const ta = C.tensor(a, [2, M, K], { dtype: 'f16', backend: be });
  const tb = C.tensor(b, [K, N], { dtype: 'f16', backend: be });
  const p = { a: ta, b: tb, out: C.Tensor.empty([2, M, N], 'f32', be, 'test'), M, N, K, transA: false, transB: false, aBatchStride: M * K, bBatchStride: 0 };
  assert.ok(C.supportedVariants('matmul', be, p).includes('fragments'));
  assert.not.ok(C.supportedVariants('matmul', new C.CpuBackend({ subgroupMatrixConfigs: [] }), p).includes('fragments'), 'no subgroup matrices, no fragment variant');
  const want = product(a, b, 2, M, N, K, false, false, false);
  // The reference prefers its map kernels; the variant is forced, as a GPU backend would choose it.
  await C.withVariant('matmul', 'fragments', async () => {
    const f32 = C.matmul(ta, tb, { result: 'f32' });
    assert.is(f32.dtype, 'f32');
    expectEqual('f16 -> f32', await f32.read(), want);
    const f16 = C.matmul(ta, tb);
    assert.is(f16.dtype, 'f16');
    expectEqual('f16 -> f16', await f16.read(), want.map(oracleF16));
    const empty = C.matmul(C.tensor([], [0, 5], { dtype: 'f16', backend: be }), C.tensor(data(15, 3), [5, 3], { dtype: 'f16', backend: be }), { result: 'f32' });
    assert.equal(empty.shape, [0, 3]);
    const noK = C.matmul(C.tensor([], [2, 0], { dtype: 'f16', backend: be }), C.tensor([], [0, 3], { dtype: 'f16', backend: be }));
    assert.equal(Array.from(await noK.read()), [0, 0, 0, 0, 0, 0]);
  });
});

s('the tile follows the grid: fewer than SMALL_GRID_WORKGROUPS large blocks take the small-grid tile', () => {
  const be = reference(32);
  const choose = (M: number, N: number) => {
    const out = C.Tensor.empty([M, N], 'f16', be, 'test');
    const t = C.fragmentTileForProblem(be, { a: C.Tensor.empty([1, 1], 'f16', be), b: out, out, M, N, K: 64, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 });
    out.dispose();
    return t && `${t.BM}x${t.BN}x${t.BK}`;
  };
  const key = (t: { BM: number; BN: number; BK: number }) => `${t.BM}x${t.BN}x${t.BK}`;
  assert.is(choose(1024, 1024), key(C.SMALL_GRID_TILE), '1024^2: 32 large blocks');
  assert.is(choose(2048, 2048), key(C.FRAGMENT_TILE), '2048^2: 128 large blocks');
  assert.is(choose(2048, 2047), key(C.FRAGMENT_TILE), 'a partial block counts as one');
  assert.is(choose(2048, 1920), key(C.SMALL_GRID_TILE), '120 large blocks');
  assert.is(C.fragmentTileForProblem(new C.CpuBackend({ subgroupMatrixConfigs: [] }), { a: C.Tensor.empty([1, 1], 'f16', be), b: C.Tensor.empty([1, 1], 'f16', be), out: C.Tensor.empty([1, 1], 'f16', be), M: 1, N: 1, K: 1, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 }), undefined, 'no subgroup matrices, no tile');
});

s('NaN and infinities propagate as in the float64 product (and as in the map variant)', async () => {
  const be = reference(4);
  const [M, N, K] = [20, 19, 18];
  const a = data(M * K, 5);
  const b = data(K * N, 6);
  a[3 * K + 2] = NaN; // row 3 NaN
  a[7 * K + 4] = Infinity; // row 7 +-inf (or NaN where b is 0)
  a[9 * K + 1] = -Infinity;
  a[9 * K + 8] = Infinity; // row 9: inf - inf somewhere
  b[5 * N + 11] = 0;
  const ta = C.tensor(a, [M, K], { dtype: 'f16', backend: be });
  const tb = C.tensor(b, [K, N], { dtype: 'f16', backend: be });
  const want = product(a, b, 1, M, N, K, false, false);
  assert.ok(want.some(Number.isNaN) && want.some((x) => x === Infinity) && want.some((x) => x === -Infinity), 'the data hold NaN, inf and -inf results');
  for (const tile of TILES) {
    const out = C.Tensor.empty([M, N], 'f32', be, 'test');
    C.runFragmentMatmul(be, { a: ta, b: tb, out, M, N, K, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 }, tile);
    expectEqual(C.fragmentKey(tile), await out.read(), want);
  }
  expectEqual('map variant', await (await C.withVariant('matmul', 'map', () => C.matmul(ta, tb, { result: 'f32' }))).read(), want);
});

s('backward through an f16 matmul is refused naming the op (gradients are f32; f16 training is a later step)', async () => {
  const be = reference(8);
  const ta = C.tensor(data(6, 21), [2, 3], { dtype: 'f16', backend: be });
  const tb = C.tensor(data(12, 22), [3, 4], { dtype: 'f16', backend: be });
  ta.requiresGrad = true;
  const y = await C.withVariant('matmul', 'fragments', async () => C.matmul(ta, tb));
  assert.throws(() => C.backward(y, C.ones([2, 4], { dtype: 'f16', backend: be })), /backward: the backward of 'matmul' gave an f16 gradient .* for input 0 .*; gradients are f32/);
});

s('malformed tiles, mixed dtypes and a dtype-changing matmul under autograd are refused with the numbers', () => {
  const t = TILES[0]!;
  assert.match(C.fragmentTileError({ ...t, BM: 24 }) ?? '', /BM and BN must be multiples of SM x 16/);
  assert.match(C.fragmentTileError({ ...t, BK: 8 }) ?? '', /BK must be a multiple of the fragment's K \(16\)/);
  assert.match(C.fragmentTileError({ ...t, BM: 16, BN: 16, SM: 1, subgroupSize: 128, BK: 16 }) ?? '', /multiples of the 128 invocations/);
  assert.is(C.fragmentTileError(t), null);
  const be = reference(4);
  const h = C.tensor([1, 2, 3, 4], [2, 2], { dtype: 'f16', backend: be });
  const f = C.tensor([1, 2, 3, 4], [2, 2], { backend: be });
  assert.throws(() => C.matmul(h, f), /matmul: \[2, 2\] x \[2, 2\]: needs two f32 or two f16 operands, got f16 and f32/);
  assert.throws(() => C.matmul(f, f, { result: 'f16' }), /f32 operands give an f32 result/);
  const g = C.tensor([1, 2, 3, 4], [2, 2], { dtype: 'f16', backend: be });
  g.requiresGrad = true;
  assert.throws(() => C.matmul(g, h, { result: 'f32' }), /a result of another dtype than the operands \(f16 -> f32\) has no gradient here/);
  assert.is(C.noGrad(() => C.matmul(g, h, { result: 'f32' })).dtype, 'f32');
});

s.run();
