// Every variant of matmul and reduceRows, forced with withVariant, on the CPU reference (f32; the tiled
// matmuls on a subset of the cases, each layout and the vec4 paths included) and on WebGPU, at odd sizes (no dimension a multiple of a tile; transposed, batched, broadcast) and at sizes
// that enable the vec4 paths, against float64 results computed here on the host.
import { suite } from 'uvu';
import * as C from '@cce/core';
import type { Backend } from '@cce/core';
import '../../packages/core/src/ops/tuned/index.js';
import { compareArrays } from '../support/conformance.js';
import { requireBackend, webgpuAvailable } from './support.js';

interface MatmulCase { name: string; a: number[]; b: number[]; transA?: boolean; transB?: boolean; cpu?: boolean }
const matmulCases: MatmulCase[] = [
  { name: '37x19 @ 19x29', a: [37, 19], b: [19, 29], cpu: true },
  { name: 'transA 45x37 -> 37x45 @ 45x29', a: [45, 37], b: [45, 29], transA: true },
  { name: 'transB 37x19 @ (29x19)^T', a: [37, 19], b: [29, 19], transB: true },
  { name: 'transA transB', a: [19, 37], b: [29, 19], transA: true, transB: true, cpu: true },
  { name: 'batched 3x19x13 @ 3x13x23', a: [3, 19, 13], b: [3, 13, 23] },
  { name: 'broadcast batch 3x19x13 @ 13x23', a: [3, 19, 13], b: [13, 23], cpu: true },
  { name: 'two tiles each way 70x9 @ 9x67', a: [70, 9], b: [9, 67], cpu: true },
  { name: 'vec4 paths 40x20 @ 20x28', a: [40, 20], b: [20, 28] },
  { name: 'vec4 paths transA 20x40 @ 20x28', a: [20, 40], b: [20, 28], transA: true, cpu: true },
  { name: 'vec4 out transB 40x20 @ (28x20)^T', a: [40, 20], b: [28, 20], transB: true },
];

function hostMatmul(c: MatmulCase, a: Float64Array, b: Float64Array): Float64Array {
  const [ar, ac] = c.a.slice(-2) as [number, number];
  const [br, bc] = c.b.slice(-2) as [number, number];
  const [M, K] = c.transA ? [ac, ar] : [ar, ac];
  const N = c.transB ? br : bc;
  const batch = Math.max(c.a.length > 2 ? c.a[0]! : 1, c.b.length > 2 ? c.b[0]! : 1);
  const aStride = c.a.length > 2 ? M * K : 0;
  const bStride = c.b.length > 2 ? K * N : 0;
  const out = new Float64Array(batch * M * N);
  for (let z = 0; z < batch; z++) {
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const av = a[z * aStride + (c.transA ? k * M + i : i * K + k)]!;
          const bv = b[z * bStride + (c.transB ? j * K + k : k * N + j)]!;
          s += av * bv;
        }
        out[(z * M + i) * N + j] = s;
      }
    }
  }
  return out;
}

interface ReduceCase { name: string; shape: [number, number]; kind: 'sum' | 'max' | 'logsumexp'; dtype?: 'f32' | 'i32' }
const reduceCases: ReduceCase[] = [
  { name: 'sum 7x389', shape: [7, 389], kind: 'sum' },
  { name: 'max 5x1001', shape: [5, 1001], kind: 'max' },
  { name: 'logsumexp 6x333', shape: [6, 333], kind: 'logsumexp' },
  { name: 'sum 3x67 (idle invocations)', shape: [3, 67], kind: 'sum' },
  { name: 'max 4x97', shape: [4, 97], kind: 'max' },
  { name: 'sum i32 3x301', shape: [3, 301], kind: 'sum', dtype: 'i32' },
  { name: 'max i32 3x301', shape: [3, 301], kind: 'max', dtype: 'i32' },
];

function hostReduce(c: ReduceCase, x: ArrayLike<number>): Float64Array {
  const [M, K] = c.shape;
  return Float64Array.from({ length: M }, (_, m) => {
    const row = Array.from({ length: K }, (_v, k) => x[m * K + k]!);
    const mx = Math.max(...row);
    if (c.kind === 'max') return mx;
    if (c.kind === 'sum') return row.reduce((s, v) => s + v, 0);
    return mx + Math.log(row.reduce((s, v) => s + Math.exp(v - mx), 0));
  });
}

// The f16-only variant (tensor-core fragments) has its own suite: tests/core/fragment-matmul.test.ts.
const F16_ONLY_MATMUL_VARIANTS = new Set(['fragments']);
const f32MatmulVariants = () => C.variantsOf('matmul').filter((v) => !F16_ONLY_MATMUL_VARIANTS.has(v));

function randomData(n: number, seed: number): Float64Array {
  const rng = C.mulberry32(seed);
  return Float64Array.from({ length: n }, () => rng() * 2 - 1);
}

function variantSuite(label: string, makeBackend: () => Promise<Backend>, ops = ['matmul', 'reduceRows']) {
  const s = suite(`variants: ${label}`);
  let backend: Backend;
  s.before(async () => {
    backend = await makeBackend();
  });
  let t0 = 0;
  s.before.each(() => {
    t0 = performance.now();
  });
  s.after.each((ctx) => {
    if (process.env.SHOW_TIMES) console.log(`\n${label} | ${ctx.__test__} | ${(performance.now() - t0).toFixed(0)} ms`);
  });
  for (const variant of ops.includes('matmul') ? f32MatmulVariants() : []) {
    matmulCases.forEach((c, ci) => {
      // The interpreter runs a tiled kernel's 256 invocations in lockstep: a subset of the cases there.
      if (label.startsWith('cpu') && variant !== 'map' && !c.cpu) return;
      s(`matmul ${variant}: ${c.name}`, async () => {
        const a = randomData(c.a.reduce((x, y) => x * y, 1), 10 + ci);
        const b = randomData(c.b.reduce((x, y) => x * y, 1), 50 + ci);
        const want = hostMatmul(c, a, b);
        const live = backend.memory().liveBuffers;
        const got = await C.withVariant('matmul', variant, () => C.scope(async () => {
          const ta = C.tensor(a, c.a, { backend });
          const tb = C.tensor(b, c.b, { backend });
          return C.matmul(ta, tb, { transA: c.transA, transB: c.transB }).read();
        }));
        compareArrays(`matmul ${variant} ${c.name} on ${backend.name}`, got, want);
        if (backend.memory().liveBuffers !== live) throw new Error(`buffers leaked: ${backend.memory().liveBuffers - live}`);
      });
    });
  }
  // Gradients through the forced variant (dA = G Bᵀ and dB = Aᵀ G are matmuls too, of other layouts), on
  // the GPU only (the interpreter's share is the forward cases above).
  for (const variant of ops.includes('matmul') && !label.startsWith('cpu') ? f32MatmulVariants() : []) {
    for (const [transA, transB] of [[false, false], [true, true]] as const) {
      s(`matmul ${variant}: gradients, transA ${transA} transB ${transB}, 37x33 @ 33x41`, async () => {
        const [M, K, N] = [37, 33, 41];
        const a = randomData(M * K, 7);
        const bm = randomData(K * N, 8);
        const g = randomData(M * N, 9);
        // Host values as A' (M x K) and B' (K x N), whatever the storage order.
        const A = (i: number, k: number) => a[transA ? k * M + i : i * K + k]!;
        const B = (k: number, j: number) => bm[transB ? j * K + k : k * N + j]!;
        const dA = new Float64Array(M * K);
        const dB = new Float64Array(K * N);
        for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) {
          let acc = 0;
          for (let j = 0; j < N; j++) acc += g[i * N + j]! * B(k, j);
          dA[transA ? k * M + i : i * K + k] = acc;
        }
        for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) {
          let acc = 0;
          for (let i = 0; i < M; i++) acc += A(i, k) * g[i * N + j]!;
          dB[transB ? j * K + k : k * N + j] = acc;
        }
        const [ga, gb] = await C.withVariant('matmul', variant, () => C.scope(async () => {
          const ta = C.tensor(a, transA ? [K, M] : [M, K], { backend });
          const tb = C.tensor(bm, transB ? [N, K] : [K, N], { backend });
          ta.requiresGrad = true;
          tb.requiresGrad = true;
          C.backward(C.matmul(ta, tb, { transA, transB }), C.tensor(g, [M, N], { backend }));
          const out = [await ta.grad!.read(), await tb.grad!.read()];
          ta.grad!.dispose();
          tb.grad!.dispose();
          return out;
        }));
        compareArrays(`dA through ${variant}`, ga!, dA);
        compareArrays(`dB through ${variant}`, gb!, dB);
      });
    }
  }
  for (const variant of ops.includes('reduceRows') ? C.variantsOf('reduceRows') : []) {
    reduceCases.forEach((c, ci) => {
      s(`reduceRows ${variant}: ${c.name}`, async () => {
        const n = c.shape[0] * c.shape[1];
        const raw = randomData(n, 90 + ci);
        const x = c.dtype === 'i32' ? Int32Array.from(raw, (v) => Math.round(v * 1000)) : raw;
        const want = hostReduce(c, x);
        const got = await C.withVariant('reduceRows', variant, () => C.scope(async () => {
          const t = C.tensor(x, c.shape, { backend, dtype: c.dtype ?? 'f32' });
          const y = c.kind === 'sum' ? C.sum(t, -1) : c.kind === 'max' ? C.max(t, -1) : C.logsumexp(t);
          return y.read();
        }));
        if (c.dtype === 'i32') compareArrays(`reduceRows ${variant} ${c.name} on ${backend.name}`, got, want, 0, 0);
        else compareArrays(`reduceRows ${variant} ${c.name} on ${backend.name}`, got, want);
      });
    });
  }
  s('the tuned variants are registered', () => {
    for (const [op, n] of [['matmul', 4], ['reduceRows', 3]] as const) {
      if (C.variantsOf(op).length < n) throw new Error(`${op}: expected the map variant and ${n - 1} tuned ones, got ${C.variantsOf(op).join(', ')}`);
    }
  });
  return s;
}

// Variant choice honours the device's limits and features (a backend described by its capabilities).
const choice = suite('variants: choice honours limits');
function fakeBackend(features: ('workgroupMemory' | 'subgroups')[], shared: number, invocations: number, mapOnly = false): Backend {
  const cpu = new C.CpuBackend();
  // The CPU reference with other capabilities (only supports() reads them here).
  return Object.assign(Object.create(cpu) as Backend, {
    name: 'fake',
    capabilities: {
      features: new Set(features), subgroupSize: 32, mapOnly,
      limits: { ...cpu.capabilities.limits, maxWorkgroupStorageSize: shared, maxInvocationsPerWorkgroup: invocations },
    },
  });
}
function matmulProblem(be: Backend, M: number, N: number, K: number): C.MatmulProblem {
  const t = (shape: number[]) => C.Tensor.empty(shape, 'f32', be);
  return { a: t([M, K]), b: t([K, N]), out: t([M, N]), M, N, K, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 };
}
choice('matmul: the tile grows with the problem and shrinks with the limits', () => {
  const check = (be: Backend, M: number, want: string) => {
    const p = matmulProblem(be, M, M, 64);
    const got = C.supportedVariants('matmul', be, p)[0];
    for (const t of [p.a, p.b, p.out]) t.dispose();
    if (got !== want) throw new Error(`${M}^2 with ${be.capabilities.limits.maxWorkgroupStorageSize} B, ${be.capabilities.limits.maxInvocationsPerWorkgroup} invocations: chose ${got}, expected ${want}`);
  };
  const big = fakeBackend(['workgroupMemory', 'subgroups'], 48 * 1024, 1024);
  check(big, 20, 'map');
  check(big, 300, 'tiled-64x64');
  check(big, 1100, 'tiled-128x128');
  check(big, 4096, 'tiled-256x128');
  // 20 KiB: the 256 x 128 tile (25 KiB) does not fit, the 128 x 128 one does.
  check(fakeBackend(['workgroupMemory'], 20 * 1024, 1024), 4096, 'tiled-128x128');
  // WebGPU's default limits (16 KiB, 256 invocations) or 128 invocations: no tiled kernel fits.
  check(fakeBackend(['workgroupMemory'], 16 * 1024, 256), 4096, 'map');
  check(fakeBackend(['workgroupMemory'], 48 * 1024, 128), 4096, 'map');
  check(fakeBackend([], 0, 1024, true), 4096, 'map');
});
choice('reduceRows: subgroups where present, workgroup memory otherwise, the map kernel for short rows', () => {
  const check = (be: Backend, K: number, want: string) => {
    const src = C.Tensor.empty([8, K], 'f32', be);
    const out = C.Tensor.empty([8], 'f32', be);
    const got = C.supportedVariants('reduceRows', be, { kind: 'sum', src, out, K, scale: 1 })[0];
    src.dispose();
    out.dispose();
    if (got !== want) throw new Error(`K=${K}: chose ${got}, expected ${want}`);
  };
  check(fakeBackend(['workgroupMemory', 'subgroups'], 32768, 256), 1000, 'workgroup-subgroups');
  check(fakeBackend(['workgroupMemory'], 32768, 256), 1000, 'workgroup');
  check(fakeBackend(['workgroupMemory', 'subgroups'], 32768, 256), 20, 'map');
  check(fakeBackend([], 0, 256, true), 1000, 'map');
});
choice.run();

variantSuite('cpu f32 reference', async () => new C.CpuBackend({ precision: 'f32' })).run();
// Subgroup size matters to the subgroup reductions only.
variantSuite('cpu f32 reference, subgroups of 8', async () => new C.CpuBackend({ precision: 'f32', subgroupSize: 8 }), ['reduceRows']).run();
if (await webgpuAvailable('variants')) {
  variantSuite('webgpu', requireBackend).run();
}
