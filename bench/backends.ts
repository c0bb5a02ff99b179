// Backend benchmark: matmul and a small MLP's forward + backward on the CPU reference, on gpu.js in each
// mode that starts here, and on WebGPU when @cce/backend-webgpu is present and starts; all in one
// process, with times as ratios to the CPU reference measured in the same run.
//
//   node scripts/run-ts.mjs bench/backends.ts [--quick] [--json] [--save FILE] [--verbose]   (--help lists every flag)
//
// --quick: small sizes (well under 2 minutes on a software adapter). --json: only JSON on stdout
// (progress on stderr). --save FILE: also write the JSON report to FILE. Each result is checked against
// the CPU reference's (maxRelError).
import * as C from '@cce/core';
import { availableModes, createGpujsBackend } from '@cce/backend-gpujs';

const args = await C.parseCli({
  command: 'pnpm bench:backends',
  summary: "Matmul and a small MLP's forward + backward on the CPU reference (map kernels), on gpu.js in each mode that starts " +
    'here, and on WebGPU when it starts; all in one process, with times as ratios to the CPU reference measured in the same run.',
  flags: {
    quick: { type: 'boolean', description: 'small sizes (matmul 128 and 256, MLP B64 64-256-32): well under 2 minutes on a software adapter' },
    json: C.commonFlags.json,
    save: { type: 'string', placeholder: 'FILE', description: 'also write the JSON report to FILE' },
    verbose: { type: 'boolean', description: "print each backend's whole description as it starts" },
  },
});
const quick = args.quick;
const json = args.json;
const saveTo = args.save;
const say = C.cliLog(json);

interface Contender {
  name: string;
  description: string;
  backend: C.Backend;
}

interface Workload {
  name: string;
  size: string;
  /** Floating-point operations of one run (multiply-adds count 2). */
  flops: number;
  /** Builds the inputs on a backend and returns one run (resolving when its results are computed) and a result reader. */
  prepare(backend: C.Backend): { run: () => Promise<void>; result: () => Promise<ArrayLike<number>>; dispose: () => void };
}

interface ResultRow {
  workload: string;
  size: string;
  backend: string;
  ms: number;
  reps: number;
  gflops: number;
  speedupVsCpu: number | null;
  maxRelError: number;
}

function seeded(n: number, seed: number, scale = 1): Float32Array {
  const rng = C.mulberry32(seed);
  return Float32Array.from({ length: n }, () => (rng() * 2 - 1) * scale);
}

function matmulWorkload(n: number): Workload {
  return {
    name: 'matmul',
    size: `${n}x${n}x${n}`,
    flops: 2 * n * n * n,
    prepare(backend) {
      const a = C.keep(C.tensor(seeded(n * n, 1), [n, n], { backend }));
      const b = C.keep(C.tensor(seeded(n * n, 2), [n, n], { backend }));
      let out: C.Tensor | null = null;
      return {
        run: async () => {
          out?.dispose();
          out = C.keep(C.scopeSync(() => C.matmul(a, b)));
          await backend.flush();
        },
        result: () => out!.read(),
        dispose: () => {
          out?.dispose();
          a.dispose();
          b.dispose();
        },
      };
    },
  };
}

/** tanh(x W1 + b1) W2 + b2 -> cross-entropy; forward and backward, gradients of all four parameters. */
function mlpWorkload(batch: number, dIn: number, hidden: number, classes: number): Workload {
  const macs = batch * dIn * hidden + batch * hidden * classes;
  return {
    name: 'mlp fwd+bwd',
    size: `B${batch} ${dIn}-${hidden}-${classes}`,
    flops: 2 * 3 * macs,
    prepare(backend) {
      const x = C.keep(C.tensor(seeded(batch * dIn, 3), [batch, dIn], { backend }));
      const targets = C.keep(C.tensor(Int32Array.from({ length: batch }, (_, i) => (i * 7) % classes), [batch], { dtype: 'i32', backend }));
      const params = [
        C.tensor(seeded(dIn * hidden, 4, 1 / Math.sqrt(dIn)), [dIn, hidden], { backend }),
        C.tensor(seeded(hidden, 5, 0.1), [hidden], { backend }),
        C.tensor(seeded(hidden * classes, 6, 1 / Math.sqrt(hidden)), [hidden, classes], { backend }),
        C.tensor(seeded(classes, 7, 0.1), [classes], { backend }),
      ].map((p) => {
        p.requiresGrad = true;
        return C.keep(p);
      });
      const [w1, b1, w2, b2] = params as [C.Tensor, C.Tensor, C.Tensor, C.Tensor];
      const clearGrads = () => {
        for (const p of params) {
          p.grad?.dispose();
          p.grad = null;
        }
      };
      return {
        run: async () => {
          clearGrads();
          const prev = C.getBackendOrNull();
          C.setBackend(backend);
          try {
            C.scopeSync(() => {
              const h = C.tanh(C.add(C.matmul(x, w1), b1));
              const loss = C.crossEntropy(C.add(C.matmul(h, w2), b2), targets);
              C.backward(loss);
            });
          } finally {
            C.setBackend(prev);
          }
          await backend.flush();
        },
        result: async () => {
          const parts = await Promise.all(params.map((p) => p.grad!.read()));
          const out = new Float64Array(parts.reduce((s, p) => s + p.length, 0));
          let o = 0;
          for (const p of parts) {
            out.set(p, o);
            o += p.length;
          }
          return out;
        },
        dispose: () => {
          clearGrads();
          for (const t of [x, targets, ...params]) t.dispose();
        },
      };
    },
  };
}

const workloads: Workload[] = quick
  ? [matmulWorkload(128), matmulWorkload(256), mlpWorkload(64, 64, 256, 32)]
  : [matmulWorkload(256), matmulWorkload(512), matmulWorkload(1024), mlpWorkload(128, 256, 512, 128), mlpWorkload(512, 512, 1024, 256)];
/** Wall time each measurement aims at (the first run after warm-up decides the repetitions). */
const budgetMs = quick ? 300 : 1500;
const maxReps = quick ? 20 : 50;

/**
 * The CPU reference restricted to map kernels: it would otherwise pick the tuned variants (workgroup
 * tiles), which it interprets in lockstep far more slowly, so the baseline runs the same kernels gpu.js runs.
 */
class MapVariantsOnly implements C.Backend {
  readonly name: string;
  readonly description: string;
  readonly capabilities: C.Capabilities;
  constructor(private readonly inner: C.Backend) {
    this.name = inner.name;
    this.description = `${inner.description}; map variants (the kernels gpu.js runs)`;
    this.capabilities = { ...inner.capabilities, features: new Set(), mapOnly: true };
  }
  allocate(length: number, dtype: C.DType) { return this.inner.allocate(length, dtype); }
  free(buffer: C.DeviceBuffer) { this.inner.free(buffer); }
  write(buffer: C.DeviceBuffer, data: ArrayLike<number>, offset?: number) { this.inner.write(buffer, data, offset); }
  read(buffer: C.DeviceBuffer) { return this.inner.read(buffer); }
  compile(kernel: C.Kernel) { return this.inner.compile(kernel); }
  dispatch(exe: C.Executable, bindings: C.Bindings, grid: C.Grid) { this.inner.dispatch(exe, bindings, grid); }
  flush() { return this.inner.flush(); }
  memory() { return this.inner.memory(); }
  resetPeak() { this.inner.resetPeak(); }
  destroy() { this.inner.destroy(); }
}

async function contenders(): Promise<Contender[]> {
  const out: Contender[] = [];
  const cpu = new MapVariantsOnly(new C.CpuBackend({ precision: 'f32' }));
  out.push({ name: 'cpu', description: cpu.description, backend: cpu });
  for (const probe of await availableModes()) {
    if (!probe.available) {
      say(`(gpujs:${probe.mode} unavailable: ${probe.detail})`);
      continue;
    }
    const variants: { name: string; threads?: boolean }[] = [{ name: `gpujs:${probe.mode}` }];
    if (probe.mode === 'webasm' && probe.detail.includes('worker threads')) variants.push({ name: 'gpujs:webasm(1 thread)', threads: false });
    for (const v of variants) {
      try {
        const backend = await createGpujsBackend(probe.mode, v.threads === undefined ? {} : { threads: v.threads });
        say(`backend: ${v.name} (${C.backendSummary(backend)})`);
        if (args.verbose) say(`  ${backend.description}`);
        out.push({ name: v.name, description: backend.description, backend });
      } catch (e) {
        say(`(${v.name} failed to start: ${(e as Error).message.split('\n')[0]})`);
      }
    }
  }
  try {
    await import('@cce/backend-webgpu');
  } catch (e) {
    say(`(@cce/backend-webgpu not loaded: ${(e as Error).message.split('\n')[0]})`);
  }
  if (C.registeredBackends().includes('webgpu')) {
    try {
      const backend = await C.useBackend('webgpu', { log: say, verbose: args.verbose });
      C.setBackend(null);
      out.push({ name: 'webgpu', description: backend.description, backend });
    } catch (e) {
      say(`(webgpu failed to start: ${(e as Error).message.split('\n')[0]})`);
    }
  }
  return out;
}

function relError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return Infinity;
  let scale = 0;
  let err = 0;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]!));
    const d = Math.abs(got[i]! - want[i]!);
    err = Number.isNaN(d) ? Infinity : Math.max(err, d);
  }
  return err / (scale || 1);
}

async function measure(w: Workload, c: Contender): Promise<{ ms: number; reps: number; result: ArrayLike<number> }> {
  const job = w.prepare(c.backend);
  try {
    await job.run(); // warm-up: compiles kernels
    const t0 = performance.now();
    await job.run();
    const first = performance.now() - t0;
    const reps = Math.max(1, Math.min(maxReps, Math.floor(budgetMs / Math.max(first, 1e-3))));
    const times = [first];
    for (let i = 1; i < reps; i++) {
      const t = performance.now();
      await job.run();
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    return { ms: times[Math.floor(times.length / 2)]!, reps: times.length, result: await job.result() };
  } finally {
    job.dispose();
  }
}

const fmtMs = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));

async function main() {
  const started = performance.now();
  const list = await contenders();
  const rows: ResultRow[] = [];
  for (const w of workloads) {
    let cpuMs: number | null = null;
    let reference: ArrayLike<number> | null = null;
    for (const c of list) {
      say(`${w.name} ${w.size} on ${c.name}...`);
      try {
        const m = await measure(w, c);
        if (c.name === 'cpu') {
          cpuMs = m.ms;
          reference = m.result;
        }
        rows.push({
          workload: w.name,
          size: w.size,
          backend: c.name,
          ms: Number(m.ms.toFixed(3)),
          reps: m.reps,
          gflops: Number((w.flops / (m.ms * 1e6)).toFixed(3)),
          speedupVsCpu: cpuMs === null ? null : Number((cpuMs / m.ms).toFixed(2)),
          maxRelError: reference ? Number(relError(m.result, reference).toExponential(2)) : 0,
        });
      } catch (e) {
        say(`  ${c.name} failed: ${(e as Error).message.split('\n')[0]}`);
      }
    }
  }
  for (const c of list) c.backend.destroy();
  const seconds = (performance.now() - started) / 1000;
  const os = await import('node:os');
  const report = {
    bench: 'backends',
    quick,
    host: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? '', node: process.version, platform: `${process.platform}-${process.arch}` },
    backends: list.map((c) => ({ name: c.name, description: c.description })),
    results: rows,
    seconds: Number(seconds.toFixed(1)),
  };
  if (saveTo) {
    const fs = await import('node:fs');
    fs.writeFileSync(saveTo, `${JSON.stringify(report, null, 2)}\n`);
  }
  if (json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  const names = list.map((c) => c.name);
  const header = ['workload', 'size', ...names.map((n) => (n === 'cpu' ? 'cpu ms' : `${n} ms (x cpu)`))];
  const table: string[][] = [];
  for (const w of workloads) {
    const cells = [w.name, w.size];
    for (const n of names) {
      const r = rows.find((x) => x.workload === w.name && x.size === w.size && x.backend === n);
      if (!r) cells.push('failed');
      else if (n === 'cpu') cells.push(fmtMs(r.ms));
      else cells.push(`${fmtMs(r.ms)} (${r.speedupVsCpu === null ? '?' : `${r.speedupVsCpu}x`})${r.maxRelError > 1e-3 ? ` err ${r.maxRelError}` : ''}`);
    }
    table.push(cells);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  console.log('');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of table) console.log(line(r));
  console.log('');
  console.log(`ratios: the CPU reference's time over the backend's (higher is faster); medians of up to ${maxReps} runs after a warm-up; ${seconds.toFixed(1)} s in all`);
  for (const c of list) console.log(`  ${c.name}: ${c.description}`);
}

await main();
