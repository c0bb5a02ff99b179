// Subgroup matrices (tensor cores) through WebGPU on a real GPU: what the device offers (features, Dawn
// toggles, subgroup sizes, subgroup-matrix configurations), f16 casts and arithmetic against the CPU
// reference bit for bit, then every offered subgroup-matrix configuration of the naive subgroup-matrix
// matmul (each of several tile and subgroup layouts) against the CPU reference at odd multiples of its
// block, and the matmul's speed at square sizes (TFLOP/s, 2 M N K per product; the naive kernel reads
// its tiles straight from global memory, nothing is staged).
//
//   npx esbuild bench/subgroup-matrix-check.ts --bundle --platform=node --format=esm --external:webgpu \
//     --external:gpu.js --external:gl --outfile=dist/device/subgroup-matrix-check.mjs ...   (see BENCHMARKS.md)
//   node dist/device/subgroup-matrix-check.mjs [--sizes 1024,4096] [--layouts 2x4x4,4x4x4] [--reps 10] [--json FILE]
//
// Exit code 1 when a check fails or there is no subgroup-matrix configuration (the rest still prints).
import { writeFileSync } from 'node:fs';
import * as C from '../packages/core/src/index.js';
import { type WebGpuBackend, createWebGpuBackend } from '../packages/backend-webgpu/src/index.js';

const args = await C.parseCli({
  command: 'node subgroup-matrix-check.mjs',
  summary: 'Every subgroup-matrix configuration the WebGPU adapter offers, checked against the CPU reference at odd shapes, then timed at square sizes.',
  flags: {
    sizes: { type: 'list', of: 'integer', min: 1, placeholder: 'N,N,...', description: 'square sizes to time', defaultText: '1024,2048,4096,8192' },
    reps: { type: 'integer', min: 1, description: 'timed products per size and layout', defaultText: '10' },
    layouts: { type: 'list', of: 'string', placeholder: 'TMxTNxS,...', description: 'layouts of the naive kernel: result tiles per subgroup along M and N, subgroups per workgroup',
      defaultText: '1x1x1,2x2x1,2x2x2,4x2x2,2x4x4' },
    json: { type: 'string', placeholder: 'FILE', description: 'also write the results as JSON to FILE' },
  },
});
const sizes = args.sizes ?? [1024, 2048, 4096, 8192];
const reps = args.reps ?? 10;
const log = (line: string) => process.stdout.write(`${line}\n`);

/** Tile and subgroup layouts of the naive kernel: result tiles per subgroup, subgroups per workgroup. */
const LAYOUTS = (args.layouts ?? ['1x1x1', '2x2x1', '2x2x2', '4x2x2', '2x4x4']).map((text) => {
  const m = /^(\d+)x(\d+)x(\d+)$/.exec(text);
  if (!m) throw new Error(`--layouts: '${text}' is not TMxTNxS (e.g. 2x4x4)`);
  return { tilesM: Number(m[1]), tilesN: Number(m[2]), subgroups: Number(m[3]) };
});
const layoutName = (l: (typeof LAYOUTS)[number]) => `${l.tilesM}x${l.tilesN} tiles, ${l.subgroups} subgroup(s)`;

const gpu: WebGpuBackend = await createWebGpuBackend();
const r = gpu.report;
log(`adapter: ${r.name}`);
log(`description: ${gpu.description}`);
log(`dawn options: ${r.dawnOptions.join(' ')}`);
log(`adapter features: ${r.adapterFeatures.join(' ')}`);
log(`device features: ${r.features.join(' ')}`);
log(`subgroup sizes: ${r.subgroupMinSize}-${r.subgroupMaxSize}`);
log(`adapter's subgroup-matrix configurations, as Dawn lists them: ${JSON.stringify((gpu.adapter.info as unknown as { subgroupMatrixConfigs?: unknown[] }).subgroupMatrixConfigs ?? [], ['M', 'N', 'K', 'componentType', 'resultComponentType'])}`);
log(`subgroup-matrix configurations on the device (M x N x K component->result): ${r.subgroupMatrixConfigs.map(C.formatMatrixConfig).join(', ') || 'none'}`);
const offered = gpu.capabilities.subgroupMatrixConfigs ?? [];
const sg = gpu.capabilities.subgroupMaxSize ?? 32;
const ref = new C.CpuBackend({ subgroupSize: sg, subgroupMatrixConfigs: offered });
const failures: string[] = offered.length ? [] : ['the device offers no subgroup-matrix configuration'];
const results: Record<string, unknown> = { adapter: r.name, description: gpu.description, dawnOptions: r.dawnOptions, features: r.features, configs: r.subgroupMatrixConfigs };

// f16 casts and correctly rounded arithmetic, bit for bit.
if (gpu.capabilities.features.has('f16')) {
  const rng = C.mulberry32(1);
  const xs = [0, -0, 2 ** -24, 2 ** -25, 3 * 2 ** -25, 65504, 65519, 65520, 70000, -70000, NaN, Infinity, -Infinity, 1 + 2 ** -11, 1 + 3 * 2 ** -11,
    ...Array.from({ length: 1001 }, () => (rng() * 2 - 1) * 2 ** Math.floor(rng() * 34 - 18))];
  const ys = xs.map((_, i) => xs[(i * 7 + 3) % xs.length]!);
  const run = async (be: C.Backend) => {
    const x = C.cast(C.tensor(xs, [xs.length], { backend: be }), 'f16');
    const y = C.cast(C.tensor(ys, [ys.length], { backend: be }), 'f16');
    return Promise.all([x.read(), C.add(x, y).read(), C.mul(x, y).read(), C.sub(x, y).read(), C.cast(x, 'i32').read()]);
  };
  const [want, got] = [await run(ref), await run(gpu)];
  const names = ['cast f32->f16', 'add', 'mul', 'sub', 'cast f16->i32'];
  const bad = names.map((n, j) => {
    let count = 0;
    let first = '';
    got[j]!.forEach((g, i) => {
      const w = want[j]![i]!;
      if (!(g === w || (Number.isNaN(g) && Number.isNaN(w)))) {
        if (!count) first = ` (first: element ${i}, ${g} vs ${w}, inputs ${xs[i]}, ${ys[i]})`;
        count++;
      }
    });
    return count ? `${n}: ${count} of ${xs.length} differ${first}` : '';
  }).filter(Boolean);
  log(`f16 ops vs the reference (${xs.length} elements): ${bad.length ? bad.join('; ') : 'all bit for bit'}`);
  failures.push(...bad.map((b) => `f16 ${b}`));
  results.f16 = bad.length ? bad : 'bit for bit';
}

/** Random inputs exact in the component type, the product on both backends, the largest deviation. */
async function check(config: C.SubgroupMatrixConfig, layout: (typeof LAYOUTS)[number]): Promise<{ M: number; N: number; K: number; maxAbs: number; bound: number; ok: boolean }> {
  const block = C.subgroupMatmulBlock({ config, ...layout, subgroupSize: sg });
  const [M, N, K] = [block.rows * 3, block.cols * 5, config.K * 7];
  const rng = C.mulberry32(M + N + K);
  const a = Array.from({ length: M * K }, () => rng() * 2 - 1);
  const b = Array.from({ length: K * N }, () => rng() * 2 - 1);
  const on = async (be: C.Backend) => {
    const ta = C.tensor(a, [M, K], { dtype: config.component, backend: be });
    const tb = C.tensor(b, [K, N], { dtype: config.component, backend: be });
    return C.subgroupMatrixMatmul(ta, tb, { config, ...layout }).read();
  };
  const want = await on(ref);
  const got = await on(gpu);
  let maxAbs = 0;
  got.forEach((g, i) => { maxAbs = Math.max(maxAbs, Number.isNaN(g) ? Infinity : Math.abs(g - want[i]!)); });
  // |a|, |b| < 1 and K terms: sums below K; f16 results round at 2^-11 relative per k slice, f32 ones far below.
  const bound = config.result === 'f16' ? (K / config.K) * 2 ** -10 * K : K * 2 ** -20 + 2 ** -12;
  return { M, N, K, maxAbs, bound, ok: maxAbs <= bound };
}

const checks: unknown[] = [];
for (const config of offered) {
  for (const layout of LAYOUTS) {
    const name = `${C.formatMatrixConfig(config)}, ${layoutName(layout)}`;
    try {
      const c = await check(config, layout);
      log(`check ${name}: [${c.M}, ${c.K}] x [${c.K}, ${c.N}] max |gpu - reference| ${c.maxAbs.toExponential(3)} (bound ${c.bound.toExponential(2)}) ${c.ok ? 'ok' : 'FAIL'}`);
      if (!c.ok) failures.push(name);
      checks.push({ config, layout, ...c });
    } catch (e) {
      log(`check ${name}: ERROR ${(e as Error).message.split('\n')[0]}`);
      failures.push(`${name}: ${(e as Error).message.split('\n')[0]}`);
      checks.push({ config, layout, error: (e as Error).message.split('\n')[0] });
    }
  }
}
results.checks = checks;

// Timings: f16 inputs, each offered configuration and layout at each size.
const timings: unknown[] = [];
for (const n of sizes) {
  const a = C.randn([n, n], { backend: gpu, seed: 1 });
  const b = C.randn([n, n], { backend: gpu, seed: 2 });
  const ah = C.cast(a, 'f16');
  const bh = C.cast(b, 'f16');
  a.dispose();
  b.dispose();
  for (const config of offered) {
    for (const layout of LAYOUTS) {
      const block = C.subgroupMatmulBlock({ config, ...layout, subgroupSize: sg });
      if (n % block.rows || n % block.cols || n % config.K) continue;
      C.subgroupMatrixMatmul(ah, bh, { config, ...layout }).dispose();
      await gpu.flush();
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) C.subgroupMatrixMatmul(ah, bh, { config, ...layout }).dispose();
      await gpu.flush();
      const ms = (performance.now() - t0) / reps;
      const tflops = (2 * n ** 3) / (ms * 1e-3) / 1e12;
      log(`time ${n}^3 ${C.formatMatrixConfig(config)}, ${layoutName(layout)}: ${ms.toFixed(3)} ms, ${tflops.toFixed(1)} TFLOP/s`);
      timings.push({ n, config, layout, ms, tflops });
    }
  }
  ah.dispose();
  bh.dispose();
}
results.timings = timings;
results.failures = failures;
if (args.json) writeFileSync(args.json, JSON.stringify(results, null, 2));
log(failures.length ? `FAILED: ${failures.length} check(s): ${failures.join('; ')}` : `all checks passed (${checks.length} subgroup-matrix checks)`);
gpu.destroy();
process.exit(failures.length ? 1 : 0);
