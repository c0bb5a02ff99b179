// Tensor-core matmul through WebGPU on a real GPU: every fragment tile of the sweep, in every operand
// layout (transposes, vec4 or scalar loads, direct or scratch epilogue, f32 or f16 result, batched),
// checked against the CPU reference at odd shapes; then each tile timed at square sizes and at the
// CCE-shaped products (tokens x dim x vocab: E C^T with C stored [vocab, dim]), and core's matmul as a
// user calls it (TFLOP/s, 2 M N K per product; GPU time from timestamps, and the wall clock's). PyTorch's cuBLAS numbers come from
// bench/torch_matmul_f16.py in the same device call.
//
//   pnpm bench:matmul-f16 [-- --tiles 128x128x32/2x4,...] [--sizes 1024,4096] [--reps 10] [--json]
// (bundled for a GPU machine: node matmul-f16.mjs ...). --json: only JSON on stdout, progress on stderr.
//
// Exit code 1 when a check fails (the timings still print).
import * as C from '../packages/core/src/index.js';
import { createWebGpuBackend } from '../packages/backend-webgpu/src/index.js';

const DEFAULT_TILES = ['128x128x32/2x4', '128x128x32/2x2', '128x128x16/2x4', '128x256x16/2x4', '256x128x16/4x2', '64x128x32/2x2',
  '128x64x32/2x2', '64x64x32/2x2', '128x128x32/2x4@16x8x16', '128x128x64/2x4:1', '128x128x64/2x2:1', '256x128x32/4x2:1', '128x256x32/2x4:1',
  '256x128x32/2x2:1'];
const args = await C.parseCli({
  command: 'node matmul-f16.mjs',
  summary: 'Fragment (tensor-core) f16 matmul tiles checked against the CPU reference at odd shapes in every layout, then timed.',
  flags: {
    tiles: { type: 'list', of: 'string', placeholder: 'BMxBNxBK/SMxSN[@MxNxK][:1],...', description: "fragment tiles to check and time (':1': one staging buffer)", defaultText: DEFAULT_TILES.join(',') },
    sizes: { type: 'list', of: 'integer', min: 1, placeholder: 'N,N,...', description: 'square sizes to time', defaultText: '1024,2048,4096,8192' },
    shapes: { type: 'list', of: 'string', placeholder: 'MxKxN,...', description: 'CCE-shaped products M x K times (N x K)^T to time', defaultText: '8192x768x50304,8192x2304x256000' },
    reps: { type: 'integer', min: 1, description: 'timed products per round, size and tile', defaultText: '10' },
    rounds: { type: 'integer', min: 1, description: 'rounds over all tiles per size (the best counts)', defaultText: '3' },
    dawn: { type: 'string', placeholder: 'OPTION', description: "an extra Dawn option, e.g. 'enable-dawn-features=disable_robustness' (toggle lists join ours)" },
    'no-check': { type: 'boolean', description: 'skip the checks against the CPU reference' },
    json: C.commonFlags.json,
  },
});
const log = C.cliLog(!!args.json);
const reps = args.reps ?? 10;

const gpu = await createWebGpuBackend({ dawnOptions: args.dawn ? [args.dawn] : [] });
log(`dawn options: ${gpu.report.dawnOptions.join(' ')}`);
log(`adapter: ${gpu.report.name}; ${gpu.description}`);
log(`subgroup-matrix configurations: ${gpu.report.subgroupMatrixConfigs.map(C.formatMatrixConfig).join(', ') || 'none'}`);
const configs = gpu.capabilities.subgroupMatrixConfigs ?? [];
if (!configs.length) {
  console.error(`matmul-f16: the adapter (${gpu.report.name}) offers no subgroup matrices, so there is no fragment matmul to check or time`);
  process.exit(1);
}
const subgroupSize = gpu.capabilities.subgroupMaxSize ?? 32;

function parseTile(text: string): C.FragmentTile {
  const m = /^(\d+)x(\d+)x(\d+)\/(\d+)x(\d+)(?:@(\d+)x(\d+)x(\d+))?(:1)?$/.exec(text);
  if (!m) throw new Error(`--tiles: '${text}' is not BMxBNxBK/SMxSN[@MxNxK][:1] (e.g. 128x128x32/2x4; ':1' stages each slice once)`);
  const [BM, BN, BK, SM, SN, fm = 16, fn = 16, fk = 16] = m.slice(1, 9).map((s) => (s === undefined ? undefined : Number(s)));
  const matrix = configs.find((c) => c.component === 'f16' && c.result === 'f32' && c.M === fm && c.N === fn && c.K === fk);
  if (!matrix) throw new Error(`--tiles ${text}: the device offers no ${fm}x${fn}x${fk} f16 -> f32 subgroup matrix`);
  return { BM: BM!, BN: BN!, BK: BK!, SM: SM!, SN: SN!, matrix, subgroupSize, ...(m[9] ? { stages: 1 as const } : {}) };
}
const tiles = (args.tiles ?? DEFAULT_TILES).map((text) => ({ text, tile: parseTile(text) })).filter(({ text, tile }) => {
  const err = C.fragmentTileError(tile) ?? (C.fragmentsFit(gpu, tile) ? null : 'does not fit the device limits (workgroup memory or invocations)');
  if (err) log(`tile ${text}: skipped, ${err}`);
  return !err;
});

const problem = (a: C.Tensor, b: C.Tensor, out: C.Tensor, M: number, N: number, K: number, transA: boolean, transB: boolean, batch = 1): C.MatmulProblem =>
  ({ a, b, out, M, N, K, transA, transB, aBatchStride: batch > 1 ? M * K : 0, bBatchStride: batch > 1 ? K * N : 0 });

const ref = new C.CpuBackend({ subgroupSize, subgroupMatrixConfigs: configs });
const failures: string[] = [];
const checks: unknown[] = [];

/** One layout of one tile against the CPU reference's plain matmul (inputs exact in f16). */
async function check(text: string, tile: C.FragmentTile, M: number, N: number, K: number, transA: boolean, transB: boolean, result: 'f32' | 'f16', batch: number) {
  const rng = C.mulberry32(M * 7 + N * 3 + K);
  const a = Array.from({ length: batch * M * K }, () => Math.round((rng() * 2 - 1) * 256) / 256);
  const b = Array.from({ length: batch * K * N }, () => Math.round((rng() * 2 - 1) * 256) / 256);
  const lead = batch > 1 ? [batch] : [];
  const on = (be: C.Backend) => ({
    a: C.tensor(a, [...lead, ...(transA ? [K, M] : [M, K])], { dtype: 'f16', backend: be }),
    b: C.tensor(b, [...lead, ...(transB ? [N, K] : [K, N])], { dtype: 'f16', backend: be }),
  });
  const r = on(ref);
  const want = await (await C.withVariant('matmul', 'map', () => C.matmul(r.a, r.b, { transA, transB, result }))).read();
  const g = on(gpu);
  const out = C.Tensor.empty([...lead, M, N], result, gpu, 'matmul-f16 check');
  const p = problem(g.a, g.b, out, M, N, K, transA, transB, batch);
  const layout = C.fragmentLayout(p, tile);
  C.runFragmentMatmul(gpu, p, tile);
  const got = await out.read();
  let maxAbs = 0;
  let maxWant = 0;
  got.forEach((v, i) => {
    maxAbs = Math.max(maxAbs, Number.isNaN(v) ? Infinity : Math.abs(v - want[i]!));
    maxWant = Math.max(maxWant, Math.abs(want[i]!));
  });
  // Products of the inputs are exact in f32; f32 sums of K terms below K round at K 2^-24 each step.
  // An f16 result is rounded once on both sides, from slightly different f32 sums: one f16 ulp of the value.
  const bound = K * K * 2 ** -24 + (result === 'f16' ? maxWant * 2 ** -10 : 0);
  const name = `${text} ${transA ? 'T' : 'N'}${transB ? 'T' : 'N'} ${batch > 1 ? `${batch}x` : ''}[${M}, ${K}] x [${K}, ${N}] -> ${result} (${layout.vecA ? 'vec A' : 'scalar A'}, ${layout.vecB ? 'vec B' : 'scalar B'}, ${layout.direct ? 'direct' : 'scratch'})`;
  const ok = maxAbs <= bound;
  log(`check ${name}: max |gpu - reference| ${maxAbs.toExponential(2)} (bound ${bound.toExponential(2)}) ${ok ? 'ok' : 'FAIL'}`);
  if (!ok) failures.push(name);
  checks.push({ tile: text, M, N, K, transA, transB, result, batch, layout, maxAbs, bound, ok });
  for (const t of [r.a, r.b, g.a, g.b, out]) t.dispose();
}

if (!args['no-check']) {
  for (const { text, tile } of tiles) {
    const { BM, BN, BK } = tile;
    try {
      await check(text, tile, 2 * BM, 2 * BN, 4 * BK, false, false, 'f32', 1); // direct, vec4 loads
      await check(text, tile, 2 * BM + 5, 3 * BN - 7, 5 * BK + 3, false, false, 'f32', 1); // scalar A, scalar B
      await check(text, tile, BM + 4, BN + 12, 3 * BK + 8, false, true, 'f32', 1); // vec, scratch
      await check(text, tile, BM + 3, BN - 5, 2 * BK + 1, true, false, 'f16', 1);
      await check(text, tile, BM - 1, BN + 1, BK - 3, true, true, 'f32', 2);
      await check(text, tile, BM, BN, 2 * BK, true, true, 'f32', 3); // direct, batched
      await check(text, tile, 1, 1, 1, false, false, 'f32', 1);
    } catch (e) {
      const msg = (e as Error).message.split('\n')[0]!;
      log(`check ${text}: ERROR ${msg}`);
      failures.push(`${text}: ${msg}`);
    }
  }
}

/**
 * One round of `fn`: milliseconds per run by the wall clock (dispatch and submission included) and by
 * the GPU's timestamps (the kernels alone), after one untimed run (pipeline compilation).
 */
async function round(fn: () => void): Promise<{ wallMs: number; gpuMs: number }> {
  fn();
  await gpu.flush();
  const prof = gpu.startProfiling();
  prof.reset();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) fn();
  await gpu.flush();
  const wallMs = (performance.now() - t0) / reps;
  const gpuMs = (await gpu.stopProfiling()).rows().reduce((sum, r) => sum + r.totalMs, 0) / reps;
  return { wallMs, gpuMs };
}

const timings: unknown[] = [];
const tflops = (M: number, N: number, K: number, ms: number) => (2 * M * N * K) / (ms * 1e-3) / 1e12;
const products = [
  ...(args.sizes ?? [1024, 2048, 4096, 8192]).map((n) => ({ name: `${n}^3`, M: n, N: n, K: n, transB: false })),
  ...(args.shapes ?? ['8192x768x50304', '8192x2304x256000']).map((s) => {
    const [M, K, N] = s.split('x').map(Number);
    if (!(M! > 0 && K! > 0 && N! > 0)) throw new Error(`--shapes: '${s}' is not MxKxN`);
    return { name: `${M}x${K}x${N} (E C^T)`, M: M!, N: N!, K: K!, transB: true };
  }),
];
const rounds = args.rounds ?? 3;
// The GPU lowers its clocks while the CPU checks run: about a second of 2048^3 products first, so that
// the first sizes are not timed on a cold GPU (on the H200 the same 1024^3 kernel took 0.270 ms right
// after the checks and 0.058 ms in a process started without them: BENCHMARKS.md, batch3).
{
  const n = 2048;
  const a = C.cast(C.randn([n, n], { backend: gpu, seed: 3 }), 'f16');
  const b = C.cast(C.randn([n, n], { backend: gpu, seed: 4 }), 'f16');
  const t0 = performance.now();
  while (performance.now() - t0 < 1000) {
    for (let i = 0; i < 20; i++) C.matmul(a, b).dispose();
    await gpu.flush();
  }
  a.dispose();
  b.dispose();
}
for (const { name, M, N, K, transB } of products) {
  // An output past the largest binding is timed in equal column chunks (the time of one, times their count).
  const chunks = Math.ceil((M * N * 4) / gpu.capabilities.limits.maxStorageBufferBindingSize);
  const Nc = Math.ceil(N / chunks);
  const label = chunks > 1 ? `${name} [${chunks} chunks of ${Nc} columns]` : name;
  const a = C.cast(C.randn([M, K], { backend: gpu, seed: 1 }), 'f16');
  const b = C.cast(C.randn(transB ? [Nc, K] : [K, Nc], { backend: gpu, seed: 2 }), 'f16');
  const out = C.Tensor.empty([M, Nc], 'f32', gpu, 'matmul-f16 timing');
  const p = problem(a, b, out, M, Nc, K, false, transB);
  log(`core matmul's variants for ${label}, preferred first: ${C.supportedVariants('matmul', gpu, p).join(', ')}`);
  const runs = [
    ...tiles.filter(({ tile }) => C.fragmentGrid(p, tile).every((g) => g <= gpu.capabilities.limits.maxWorkgroupsPerDimension))
      .map(({ text, tile }) => ({ name: text, fn: () => C.runFragmentMatmul(gpu, p, tile) })),
    ...(['f32', 'f16'] as const).map((result) => ({ name: `core matmul -> ${result}`, fn: () => C.matmul(a, b, { transB, result }).dispose() })),
  ];
  // Rounds interleave the candidates, so that a slow spell of the machine does not fall on one alone; the best round counts.
  const best = new Map<string, { wallMs: number; gpuMs: number }>();
  for (let r = 0; r < rounds; r++) {
    for (const run of runs) {
      const t = await round(run.fn);
      const prev = best.get(run.name);
      best.set(run.name, { wallMs: Math.min(t.wallMs, prev?.wallMs ?? Infinity), gpuMs: Math.min(t.gpuMs, prev?.gpuMs ?? Infinity) });
    }
  }
  for (const run of runs) {
    const { wallMs, gpuMs } = best.get(run.name)!;
    const [gpuTotal, wallTotal] = [gpuMs * chunks, wallMs * chunks];
    log(`time ${label} ${run.name}: GPU ${gpuTotal.toFixed(3)} ms, ${tflops(M, N, K, gpuTotal).toFixed(1)} TFLOP/s; wall ${wallTotal.toFixed(3)} ms, ${tflops(M, N, K, wallTotal).toFixed(1)} TFLOP/s`);
    timings.push({ product: name, M, N, K, chunks, tile: run.name, gpuMs: gpuTotal, wallMs: wallTotal, tflops: tflops(M, N, K, gpuTotal), wallTflops: tflops(M, N, K, wallTotal) });
  }
  out.dispose();
  a.dispose();
  b.dispose();
}

if (args.json) console.log(JSON.stringify({ adapter: gpu.report.name, configs: gpu.report.subgroupMatrixConfigs, checks, timings, failures }, null, 2));
log(failures.length ? `FAILED: ${failures.length} check(s): ${failures.join('; ')}` : `all ${checks.length} checks passed`);
gpu.destroy();
process.exitCode = failures.length ? 1 : 0;
