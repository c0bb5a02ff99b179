// WebGPU benchmark: f32 matmul GFLOP/s (square 1024..8192 and the classifier shape 8192 x 768 x 50304,
// logits = E Cᵀ with C stored [V, D]), device-copy bandwidth, and per-dispatch overhead (a tiny kernel,
// batched into one command buffer, submitted one by one, and waited for one by one).
//
//   node scripts/run-ts.mjs bench/webgpu.ts [--quick] [--json] [--tune] [--variant NAME] [--sizes LIST]
//     [--tune-size N] [--dawn OPTION]... [--no-extras] [--verbose]      (--help lists every flag)
//
// --quick: small sizes (minutes on a software adapter); --json: only JSON on stdout, progress on stderr;
// --tune: also times several tile configurations of the tiled matmul; --variant: force a matmul variant.
// Every matmul result is spot-checked against float64 sums on the host (maxRelErr).
import * as C from '../packages/core/src/index.js';
import type { Kernel, MatmulProblem, Tensor } from '../packages/core/src/index.js';
import { type TileConfig, runTiledMatmul, tileConfigError, tiledFits } from '../packages/core/src/ops/tuned/index.js';
import { type WebGpuBackend, createWebGpuBackend } from '../packages/backend-webgpu/src/index.js';

const args = await C.parseCli({
  command: 'pnpm bench:webgpu',
  summary: 'WebGPU benchmark: f32 matmul GFLOP/s (square sizes and the classifier shape 8192 x 768 x 50304, logits = E Cᵀ), ' +
    'device-copy bandwidth, and per-dispatch overhead (a tiny kernel batched, submitted one by one, and waited for one by one). ' +
    'Every matmul result is spot-checked against float64 sums on the host.',
  flags: {
    quick: { type: 'boolean', description: 'small sizes (128, 256, 384; classifier 512 x 96 x 1003; 16 MiB copy): minutes on a software adapter' },
    sizes: { type: 'list', of: 'integer', min: 1, placeholder: 'N,N,...', description: 'the square matmul sizes to time',
      defaultText: '1024,2048,4096,8192, or 128,256,384 with --quick' },
    variant: { type: 'enum', choices: C.variantsOf('matmul'), placeholder: 'NAME', description: 'force this matmul variant', defaultText: 'the best supported one' },
    tune: { type: 'boolean', description: 'also time several tile configurations of the tiled matmul' },
    'tune-size': { type: 'integer', min: 1, description: 'the square size --tune times', defaultText: '4096, or 256 with --quick' },
    dawn: { type: 'string', multiple: true, placeholder: 'OPTION', description: "a Dawn option for create([...]) in Node, e.g. 'enable-dawn-features=allow_unsafe_apis'" },
    'no-extras': { type: 'boolean', description: 'matmul only (no classifier shape, copy or dispatch timings)' },
    force: { type: 'boolean', description: 'run the full sizes even on a software adapter (hours)' },
    json: C.commonFlags.json,
    verbose: { type: 'boolean', description: "print the adapter's whole description" },
  },
});
const quick = args.quick;
const json = args.json;
const tune = args.tune;
const forced = args.variant;
const sizes = args.sizes;
const dawnOptions = args.dawn;
const extras = !args['no-extras'];
const log = (line: string) => process.stderr.write(`${line}\n`);

interface MatmulResult {
  name: string;
  M: number;
  N: number;
  K: number;
  transB: boolean;
  variant: string;
  reps: number;
  ms: number;
  gflops: number;
  maxRelErr: number;
  skipped?: string;
}

// ---------------------------------------------------------------- data on the device

/** A u32 hash of (index, seed), the same in the kernel and on the host. */
function hostHash(i: number, seed: number): number {
  let h = Math.imul(i >>> 0, 0x9e3779b1) ^ seed;
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca77);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae3d);
  h ^= h >>> 16;
  return h >>> 0;
}
/** Uniform in [-1, 1), exactly representable in f32. */
const hostValue = (i: number, seed: number) => ((hostHash(i, seed) & 0xffffff) / 16777216) * 2 - 1;

const fillRandom: Kernel = C.defineMapKernel('bench_fill_random', { workgroupSize: 256, outputType: 'f32' },
  (b) => b.uniform('seed', 'u32'),
  ({ b, index }, seed) => {
    const h = b.var('h', index.toU32().mul(C.u32(0x9e3779b1)).bitXor(seed));
    h.set(h.bitXor(h.shr(C.u32(15))));
    h.set(h.mul(C.u32(0x85ebca77)));
    h.set(h.bitXor(h.shr(C.u32(13))));
    h.set(h.mul(C.u32(0xc2b2ae3d)));
    h.set(h.bitXor(h.shr(C.u32(16))));
    return h.bitAnd(C.u32(0xffffff)).toF32().div(16777216).mul(2).sub(1);
  });

function randomTensor(be: WebGpuBackend, shape: number[], seed: number): Tensor {
  const t = C.Tensor.empty(shape, 'f32', be);
  C.runMap(fillRandom, t, {}, { seed });
  return t;
}

/** out[i] = src[i] over vec4s: the bandwidth a kernel reaches (copyBufferToBuffer is timed too). */
const copyKernel: Kernel = C.defineKernel('bench_copy_vec4', { workgroupSize: 256 }, (b) => {
  const src = b.input('src', 'vec4<f32>');
  const out = b.output('out', 'vec4<f32>');
  b.indexBelow(b.uniform('n', 'i32'), (i) => out.store(i, src.at(i)));
});

const tiny: Kernel = C.defineKernel('bench_tiny', { workgroupSize: 64 }, (b) => {
  const x = b.input('x', 'f32');
  const out = b.output('out', 'f32');
  const i = b.let('i', b.globalId());
  out.store(i, x.at(i).add(C.f32(1)));
});

// ---------------------------------------------------------------- measurements

async function timeReps(be: WebGpuBackend, run: () => void, minSeconds: number, maxReps: number): Promise<{ reps: number; ms: number }> {
  run();
  await be.flush();
  // One timed run sizes the repetitions.
  let t0 = performance.now();
  run();
  await be.flush();
  const once = performance.now() - t0;
  const reps = Math.max(1, Math.min(maxReps, Math.ceil((minSeconds * 1000) / Math.max(once, 1e-3))));
  t0 = performance.now();
  for (let r = 0; r < reps; r++) run();
  await be.flush();
  return { reps, ms: (performance.now() - t0) / reps };
}

function problemOf(a: Tensor, b: Tensor, out: Tensor, M: number, N: number, K: number, transB: boolean): MatmulProblem {
  return { a, b, out, M, N, K, transA: false, transB, aBatchStride: 0, bBatchStride: 0 };
}

async function spotCheck(out: Tensor, M: number, N: number, K: number, transB: boolean): Promise<number> {
  const got = await out.read();
  const rng = C.mulberry32(M * 31 + N);
  let worst = 0;
  for (let s = 0; s < 12; s++) {
    const i = s === 0 ? M - 1 : Math.floor(rng() * M);
    const j = s === 0 ? N - 1 : Math.floor(rng() * N);
    let want = 0;
    let scale = 0;
    for (let k = 0; k < K; k++) {
      const av = hostValue(i * K + k, 1);
      const bv = hostValue(transB ? j * K + k : k * N + j, 2);
      want += av * bv;
      scale += Math.abs(av * bv);
    }
    worst = Math.max(worst, Math.abs(got[i * N + j]! - want) / Math.max(scale, 1e-30));
  }
  return worst;
}

async function benchMatmul(be: WebGpuBackend, name: string, M: number, N: number, K: number, transB: boolean, config?: TileConfig): Promise<MatmulResult> {
  const base = { name, M, N, K, transB };
  const limit = be.capabilities.limits.maxStorageBufferBindingSize;
  const largest = Math.max(M * N, M * K, N * K) * 4;
  if (largest > limit) {
    return { ...base, variant: '-', reps: 0, ms: 0, gflops: 0, maxRelErr: 0, skipped: `a ${largest}-byte operand exceeds the ${limit}-byte binding limit` };
  }
  return C.scope(async () => {
    const a = randomTensor(be, [M, K], 1);
    const b = randomTensor(be, transB ? [N, K] : [K, N], 2);
    const out = C.Tensor.empty([M, N], 'f32', be);
    const p = problemOf(a, b, out, M, N, K, transB);
    let variant: string;
    let run: () => void;
    if (config) {
      variant = `tiled ${config.BM}x${config.BN}x${config.BK} ${config.TM}x${config.TN}`;
      run = () => runTiledMatmul(be, p, config);
    } else {
      variant = forced ?? C.supportedVariants('matmul', be, p)[0]!;
      run = () => C.runVariant('matmul', be, p);
    }
    const flops = 2 * M * N * K;
    const { reps, ms } = await timeReps(be, run, quick ? 0.2 : 0.5, quick ? 20 : 200);
    const maxRelErr = await spotCheck(out, M, N, K, transB);
    const r = { ...base, variant, reps, ms, gflops: flops / (ms * 1e6), maxRelErr };
    log(`  ${name.padEnd(34)} ${variant.padEnd(24)} ${ms.toFixed(3).padStart(9)} ms  ${r.gflops.toFixed(1).padStart(9)} GFLOP/s  err ${maxRelErr.toExponential(1)}`);
    return r;
  });
}

interface CopyResult { bytes: number; ms: number; GBps: number; kernelMs: number; kernelGBps: number }

async function benchCopy(be: WebGpuBackend): Promise<CopyResult> {
  const limit = Math.min(be.capabilities.limits.maxStorageBufferBindingSize, be.capabilities.limits.maxBufferSize);
  const bytes = Math.min(quick ? 16 * 2 ** 20 : 1024 * 2 ** 20, Math.floor(limit / 2 ** 20) * 2 ** 20);
  return C.scope(async () => {
    const src = randomTensor(be, [bytes / 4], 3);
    const dst = C.Tensor.empty([bytes / 4], 'f32', be);
    const minS = quick ? 0.2 : 0.5;
    const { ms } = await timeReps(be, () => be.copy(src.buffer, dst.buffer, bytes), minS, 500);
    const n = bytes / 16;
    const grid = C.grid1d(n, 256, be.capabilities.limits.maxWorkgroupsPerDimension);
    const exe = be.compile(copyKernel);
    const k = await timeReps(be, () => be.dispatch(exe, { buffers: { src: src.buffer, out: dst.buffer }, uniforms: { n } }, grid), minS, 500);
    const GBps = (2 * bytes) / (ms * 1e6);
    const kernelGBps = (2 * bytes) / (k.ms * 1e6);
    log(`  device copy ${(bytes / 2 ** 20).toFixed(0)} MiB (bytes read + written): copyBufferToBuffer ${ms.toFixed(3)} ms, ${GBps.toFixed(1)} GB/s; vec4 copy kernel ${k.ms.toFixed(3)} ms, ${kernelGBps.toFixed(1)} GB/s`);
    return { bytes, ms, GBps, kernelMs: k.ms, kernelGBps };
  });
}

async function benchDispatch(be: WebGpuBackend, unbatched: WebGpuBackend): Promise<{ batchedUs: number; unbatchedUs: number; roundTripUs: number; dispatches: number }> {
  const n = quick ? 2000 : 20000;
  const measure = async (target: WebGpuBackend, wait: boolean, count: number) => {
    const x = target.allocate(64, 'f32');
    const y = target.allocate(64, 'f32');
    const exe = target.compile(tiny);
    const once = () => target.dispatch(exe, { buffers: { x, out: y } }, [1, 1, 1]);
    once();
    await target.flush();
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      once();
      if (wait) await target.flush();
    }
    await target.flush();
    const us = ((performance.now() - t0) * 1000) / count;
    target.free(x);
    target.free(y);
    return us;
  };
  const batchedUs = await measure(be, false, n);
  const unbatchedUs = await measure(unbatched, false, n);
  const roundTripUs = await measure(be, true, Math.min(n, quick ? 300 : 2000));
  log(`  tiny kernel: ${batchedUs.toFixed(2)} us batched (${be.maxBatch} per command buffer), ${unbatchedUs.toFixed(2)} us submitted one by one, ${roundTripUs.toFixed(1)} us with a wait after each`);
  return { batchedUs, unbatchedUs, roundTripUs, dispatches: n };
}

// ---------------------------------------------------------------- main

let be: WebGpuBackend;
let unbatched: WebGpuBackend;
try {
  be = await createWebGpuBackend({ dawnOptions });
  unbatched = await createWebGpuBackend({ dawnOptions, maxBatch: 1 });
} catch (e) {
  C.exitWithError(`webgpu did not start: ${(e as Error).message.split('\n')[0]}`, 1);
}
log(C.formatBackendLine(be, [], true));
if (args.verbose) log(`  ${be.description}`);
if (!quick && !sizes && !args.force && C.isSoftwareAdapter({ ...be.report, text: be.report.name })) {
  C.exitWithError(`the full sizes (up to 8192^3) would take hours on ${be.name} (${C.backendSummary(be)}); ` +
    'pass --quick for small sizes, --sizes N,... for chosen ones, or --force to run them anyway');
}

const squares = sizes ?? (quick ? [128, 256, 384] : [1024, 2048, 4096, 8192]);
const classifier = quick ? { M: 512, K: 96, N: 1003 } : { M: 8192, K: 768, N: 50304 };
const matmul: MatmulResult[] = [];
log('matmul (f32):');
const square = (n: number) => benchMatmul(be, `${n}x${n}x${n}`, n, n, n, false);
const cls = () => benchMatmul(be, `classifier ${classifier.M}x${classifier.K}x${classifier.N} (E Cᵀ)`, classifier.M, classifier.N, classifier.K, true);
const maybeForced = <T>(fn: () => Promise<T>) => (forced ? C.withVariant('matmul', forced, fn) : fn());
for (const n of squares) matmul.push(await maybeForced(() => square(n)));
if (extras) matmul.push(await maybeForced(cls));

const tuning: MatmulResult[] = [];
if (tune) {
  const size = args['tune-size'] ?? (quick ? 256 : 4096);
  const configs: TileConfig[] = [
    { BM: 64, BN: 64, BK: 16, TM: 4, TN: 4 },
    { BM: 128, BN: 128, BK: 8, TM: 8, TN: 8 },
    { BM: 128, BN: 128, BK: 16, TM: 8, TN: 8 },
    { BM: 128, BN: 256, BK: 8, TM: 8, TN: 16 },
    { BM: 256, BN: 128, BK: 8, TM: 16, TN: 8 },
    { BM: 256, BN: 256, BK: 8, TM: 16, TN: 16 },
    { BM: 128, BN: 128, BK: 16, TM: 8, TN: 4 },
  ];
  log(`tuning at ${size}^3:`);
  for (const c of configs) {
    if (tileConfigError(c) || !tiledFits(be, c)) {
      log(`  ${JSON.stringify(c)}: does not fit (${tileConfigError(c) ?? 'limits'})`);
      continue;
    }
    tuning.push(await benchMatmul(be, `${size}^3`, size, size, size, false, c));
  }
}

const none: CopyResult = { bytes: 0, ms: 0, GBps: 0, kernelMs: 0, kernelGBps: 0 };
if (extras) log('bandwidth:');
const copy = extras ? await benchCopy(be) : none;
if (extras) log('dispatch overhead:');
const dispatch = extras ? await benchDispatch(be, unbatched) : { batchedUs: 0, unbatchedUs: 0, roundTripUs: 0, dispatches: 0 };

const at4096 = matmul.find((r) => r.M === 4096 && r.N === 4096);
const result = {
  device: be.description,
  adapter: be.report.name,
  quick,
  matmul,
  ...(tune ? { tuning } : {}),
  copy,
  dispatch,
  bar: { metric: 'f32 matmul at 4096^3 on an H100', targetGflops: 30000, measuredGflops: at4096 ? at4096.gflops : null },
};

if (json) {
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} else {
  const lines = [
    `device: ${result.device}`,
    `adapter: ${result.adapter}`,
    `quick: ${quick}`,
    'matmul:',
    ...matmul.map((r) => `  ${r.name}: ${r.skipped ? `skipped (${r.skipped})` : `${r.gflops.toFixed(1)} GFLOP/s, ${r.ms.toFixed(3)} ms, variant ${r.variant}, reps ${r.reps}, maxRelErr ${r.maxRelErr.toExponential(2)}`} [M=${r.M} N=${r.N} K=${r.K} transB=${r.transB}]`),
    ...(tune ? ['tuning:', ...tuning.map((r) => `  ${r.variant}: ${r.gflops.toFixed(1)} GFLOP/s, ${r.ms.toFixed(3)} ms, maxRelErr ${r.maxRelErr.toExponential(2)}`)] : []),
    `copy: ${copy.GBps.toFixed(1)} GB/s copyBufferToBuffer (${copy.ms.toFixed(3)} ms), ${copy.kernelGBps.toFixed(1)} GB/s vec4 kernel (${copy.kernelMs.toFixed(3)} ms); ${copy.bytes} bytes, read + written counted`,
    `dispatch: batchedUs ${dispatch.batchedUs.toFixed(2)}, unbatchedUs ${dispatch.unbatchedUs.toFixed(2)}, roundTripUs ${dispatch.roundTripUs.toFixed(1)} (${dispatch.dispatches} dispatches)`,
    `bar: ${result.bar.metric} >= ${result.bar.targetGflops} GFLOP/s: measured ${result.bar.measuredGflops === null ? 'n/a (not run at 4096)' : result.bar.measuredGflops.toFixed(1)}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
unbatched.destroy();
be.destroy();
