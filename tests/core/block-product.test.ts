// The block-product engine (core ops/tuned/block-product.ts) on its own: each tile configuration the
// project builds (the matmul's three, CCE's 64/8x8 and 128/8x8/k16; one that exceeds a backend's
// workgroup memory is said and left out there) with a per-slice predicate and a k range that starts
// past 0, and with vec4 (quad) and gathered scalar fetchers, against a float64 host computation. One
// block plus a remainder on each side; on the reference and on webgpu (lavapipe in CI).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as C from '@cce/core';
import { type TileConfig, createBlockProduct, defineKernel, i32, tileKey, tileThreads } from '@cce/core';
import { TILE_HUGE, TILE_LARGE, TILE_MEDIUM } from '../../packages/core/src/ops/tuned/index.js';
import { requireBackend, webgpuAvailable } from '../webgpu/support.js';

const CONFIGS: Record<string, TileConfig> = {
  'matmul 64x64': TILE_MEDIUM,
  'matmul 128x128': TILE_LARGE,
  'matmul 256x128': TILE_HUGE,
  'cce 128/8x8/k16': { BM: 128, BN: 128, BK: 16, TM: 8, TN: 8 },
  'cce 64/8x8': { BM: 64, BN: 64, BK: 16, TM: 8, TN: 8 },
};

/**
 * out[i, j] = Σ_k a[perm[i], k] b[k, j] over k in [k0, K), skipping the slices whose index (from k0) is
 * ≡ 1 mod 3. A's rows are gathered scalars read along k; B is stored [K, cols] and read as vec4s.
 */
function testKernel(c: TileConfig) {
  return defineKernel(`block_product_test_${tileKey(c)}`, { workgroupSize: tileThreads(c) }, (b) => {
    const a = b.input('a', 'f32');
    const perm = b.input('perm', 'i32');
    const bq = b.input('b', 'vec4<f32>');
    const out = b.output('out', 'f32');
    const M = b.uniform('M', 'i32');
    const N = b.uniform('N', 'i32');
    const K = b.uniform('K', 'i32');
    const k0 = b.uniform('k0', 'i32');
    const row0 = b.let('row0', b.workgroupId(1).mul(c.BM));
    const col0 = b.let('col0', b.workgroupId(0).mul(c.BN));
    const eng = createBlockProduct(b, c, {
      along: 'k',
      row: (i, name) => {
        const ok = b.let(`${name}_ok`, i.lt(M));
        const base = b.let(`${name}_base`, ok.select(perm.at(i), i32(0)).mul(K));
        return { ok, at: (k) => a.at(base.add(k)) };
      },
    }, {
      along: 'rows',
      quad: (j, name) => ({ ok: b.let(`${name}_ok`, j.lt(N)), at: (k) => bq.at(k.mul(N.div(4)).add(j.div(4))) }),
    });
    eng.product(row0, col0, K, { kBegin: k0, active: (s) => s.sub(k0).div(c.BK).mod(3).ne(1) });
    eng.rows.forEach((lr, r) => {
      const i = b.let(`i${r}`, row0.add(lr));
      eng.cols.forEach((lc, q) => {
        const j = b.let(`j${r}_${q}`, col0.add(lc));
        b.if(i.lt(M).and(j.lt(N)), () => out.store(i.mul(N).add(j), eng.acc(r, q)));
      });
    });
  });
}

function engineSuite(name: string, getBackend: () => Promise<C.Backend>) {
  const s = suite(name);
  for (const [label, c] of Object.entries(CONFIGS)) {
    s(`${label}: predicate, k range from ${c.BK * 2}, gathered and vec4 fetchers`, async () => {
      const backend = await getBackend();
      if (!C.kernelFits(backend, testKernel(c))) {
        console.log(`    ${label}: needs more workgroup memory than this backend has (${backend.capabilities.limits.maxWorkgroupStorageSize} bytes); not run here`);
        return;
      }
      const [M, N, K, k0] = [c.BM + 13, c.BN + 20, 7 * c.BK + 5, 2 * c.BK];
      let seed = 7;
      const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
      const a = Float32Array.from({ length: M * K }, rnd);
      const bm = Float32Array.from({ length: K * N }, rnd);
      const perm = Int32Array.from({ length: M }, (_, i) => (i * 37 + 11) % M);
      const want = new Float64Array(M * N);
      for (let i = 0; i < M; i++) {
        for (let j = 0; j < N; j++) {
          let acc = 0;
          for (let k = k0; k < K; k++) if (Math.floor((k - k0) / c.BK) % 3 !== 1) acc += a[perm[i]! * K + k]! * bm[k * N + j]!;
          want[i * N + j] = acc;
        }
      }
      const got = await C.scope(async () => {
        const out = C.Tensor.empty([M * N], 'f32', backend);
        C.dispatchKernel(backend, testKernel(c), {
          a: C.tensor(a, [a.length], { backend }), perm: C.tensor(perm, [M], { backend, dtype: 'i32' }), b: C.tensor(bm, [bm.length], { backend }), out,
        }, { M, N, K, k0 }, [Math.ceil(N / c.BN), Math.ceil(M / c.BM), 1]);
        return out.read();
      });
      let err = 0;
      want.forEach((w, i) => { err = Math.max(err, Math.abs(w - got[i]!)); });
      assert.ok(err < 1e-4, `${label}: largest error ${err}`);
    });
  }
  s.run();
}

engineSuite('core: block-product engine on the reference', async () => new C.CpuBackend({ precision: 'f32' }));
if (await webgpuAvailable('block-product engine')) engineSuite('core: block-product engine on webgpu', requireBackend);
