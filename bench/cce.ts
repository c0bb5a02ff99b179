// Benchmark: naive cross-entropy (materialised logits) vs CCE (filter off, 'auto', 2^-12), forward and
// forward+backward, time and peak extra memory, on random and peaky data.
//   node scripts/run-ts.mjs bench/cce.ts [--quick] [--json] [--backend NAME] [--reps N] [--scratch MiB]
//     [--shape N,D,V] [--data random,peaky] [--block 64/4x4|64/8x8|128/8x8] [--methods naive,cce,cce-auto,cce-2^-12]
//     [--forward-block SHAPE] [--backward-block SHAPE] [--profile] [--force] [--verbose]      (--help lists every flag)
// --quick: small shapes on every backend available (minutes on a software adapter); otherwise the
// full shapes on webgpu, refused on a software adapter or a CPU backend (hours) unless --force.
// --json: only JSON on stdout (progress on stderr). --scratch: CCE's scratch in MiB; default the
// op's own, 1/128 of the logits' bytes, at most 8 MiB (packages/cce/src/options.ts).
import * as C from '@cce/core';
import type { Backend, Tensor } from '@cce/core';
import { type CceData, BLOCK_SHAPES, FilterStats, linearCrossEntropy, naiveLinearCrossEntropy, peakyCceData, randomCceData, setBlockShape } from '@cce/cce';
import { loadBackends } from '../examples/backends.js';

const ALL_METHODS = ['naive', 'cce', 'cce-auto', 'cce-2^-12'] as const;
const FULL_SHAPES: [number, number, number][] = [[8192, 768, 50304], [16384, 384, 50304], [8192, 2304, 256000]];
const args = await C.parseCli({
  command: 'pnpm bench:cce',
  summary: 'Naive cross-entropy (materialised logits) against CCE with the filter off, \'auto\' (2^-24) and 2^-12: forward and ' +
    'forward+backward time, peak extra memory, skipped tiles and gradient deviation, on random and peaky data. ' +
    'Without --quick: the GPT-2 (8192,768,50304), N=16384 (16384,384,50304) and Gemma 2 2B (8192,2304,256000) shapes on webgpu.',
  flags: {
    quick: { type: 'boolean', description: 'small shapes (512,64,4096; the cpu reference caps them at 128,32,1024) on every backend available' },
    backend: { ...C.commonFlags.backend, default: undefined, env: undefined, defaultText: 'webgpu; every registered backend with --quick',
      description: 'run on this backend only: cpu, cpu:f64, webgpu, gpujs, gpujs:webasm, ...' },
    shape: { type: 'list', of: 'integer', length: 3, min: 1, placeholder: 'N,D,V', description: 'tokens, hidden size and vocabulary of the one shape to run',
      defaultText: 'the full shapes, or 512,64,4096 with --quick' },
    data: { type: 'list', of: 'string', choices: ['random', 'peaky'], default: ['random', 'peaky'], placeholder: 'KINDS',
      description: 'synthetic data: random (an untrained model) and/or peaky (a trained model\'s peaky softmax)' },
    methods: { type: 'list', of: 'string', choices: ALL_METHODS, default: ALL_METHODS, placeholder: 'METHODS', description: 'losses to time' },
    reps: { type: 'integer', min: 1, description: 'timed passes after the warm-up pass (median reported)', defaultText: '3, or 2 with --quick' },
    scratch: { type: 'number', min: 0, minExclusive: true, placeholder: 'MiB', description: 'CCE\'s backward scratch',
      defaultText: '1/128 of the logits\' bytes, at most 8 MiB' },
    block: { type: 'enum', choices: Object.keys(BLOCK_SHAPES), placeholder: 'SHAPE', description: 'block shape (block side/outputs per invocation) of every CCE role',
      defaultText: 'forward 128/8x8/k16, or the next of 128/8x8 and 64/8x8 that fits the adapter; backward 64/4x4' },
    'forward-block': { type: 'enum', choices: Object.keys(BLOCK_SHAPES), placeholder: 'SHAPE', description: 'block shape of the forward only' },
    'backward-block': { type: 'enum', choices: Object.keys(BLOCK_SHAPES), placeholder: 'SHAPE', description: 'block shape of the backward only' },
    profile: { type: 'boolean', description: 'also print per-kernel GPU time of one forward+backward (webgpu)' },
    force: { type: 'boolean', description: 'run the full shapes even on a software adapter or a CPU backend (hours)' },
    json: C.commonFlags.json,
    verbose: C.commonFlags.verbose,
  },
  notes: ['examples:\n  pnpm bench:cce -- --quick\n  pnpm bench:cce -- --quick --backend cpu\n  pnpm bench:cce -- --shape 8192,768,50304 --data peaky --methods cce-auto --reps 5'],
});
const quick = args.quick;
const json = args.json;
const reps = args.reps ?? (quick ? 2 : 3);
/** CCE's scratch (bytes); undefined: the op's own default (1/128 of the logits' bytes, at most 8 MiB). */
const scratchBytes = args.scratch !== undefined ? args.scratch * 2 ** 20 : undefined;
const log = C.cliLog(json);
const MiB = 2 ** 20;

type Method = (typeof ALL_METHODS)[number];
const METHODS: Method[] = args.methods;
const DATA: ('random' | 'peaky')[] = args.data;
if (args.block) setBlockShape(args.block);
if (args['forward-block']) setBlockShape(args['forward-block'], 'forward');
if (args['backward-block']) setBlockShape(args['backward-block'], 'backward');
const filterOf: Record<Exclude<Method, 'naive'>, number | 'auto' | null> = { cce: null, 'cce-auto': 'auto', 'cce-2^-12': 2 ** -12 };

export interface Row {
  backend: string;
  data: 'random' | 'peaky';
  N: number;
  D: number;
  V: number;
  method: Method;
  runnable: boolean;
  note?: string;
  forwardMs?: number;
  forwardBackwardMs?: number;
  /** Of forwardBackwardMs, the time the host took to issue the work (before waiting for the GPU). */
  forwardBackwardHostMs?: number;
  /** Kernel dispatches of one forward+backward, and its host time per dispatch in µs. */
  dispatches?: number;
  hostUsPerDispatch?: number;
  /** Peak bytes beyond inputs and gradient outputs during forward+backward. */
  peakExtraBytes?: number;
  skippedTiles?: number;
  /** max |dE, dC - unfiltered| / max |unfiltered|. */
  gradDeviation?: number;
  ratioToNaive?: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The loss of one method (the naive path, or CCE with the method's filter). */
function lossOf(method: Method, x: { e: Tensor; c: Tensor; t: Tensor }, filterStats?: FilterStats): Tensor {
  return method === 'naive'
    ? naiveLinearCrossEntropy(x.e, x.c, x.t)
    : linearCrossEntropy(x.e, x.c, x.t, { filterEps: filterOf[method], scratchBytes, filterStats });
}

/** Wall time of fn and its GPU work, and the part spent issuing it on the host. */
async function timeIt(backend: Backend, fn: () => void): Promise<{ wall: number; host: number }> {
  await backend.flush();
  const t0 = performance.now();
  let host = 0;
  await C.scope(async () => {
    fn();
    host = performance.now() - t0;
    await backend.flush();
  });
  return { wall: performance.now() - t0, host };
}

/** The kernel dispatches `fn` issues on `backend` (its dispatch counted while fn runs). */
function countDispatches(backend: Backend, fn: () => void): number {
  const dispatch = backend.dispatch;
  let n = 0;
  backend.dispatch = (...a) => { n++; dispatch.apply(backend, a); };
  try {
    fn();
  } finally {
    backend.dispatch = dispatch;
  }
  return n;
}

async function measure(backend: Backend, method: Method, x: { e: Tensor; c: Tensor; t: Tensor }): Promise<{ fwd: number; fb: number; fbHost: number; dispatches: number; peak: number; skipped?: number; grads: Float32Array[] }> {
  const loss = () => lossOf(method, x);
  const clearGrads = () => { for (const p of [x.e, x.c]) { p.grad?.dispose(); p.grad = null; } };
  const fwd: number[] = [];
  const fb: number[] = [];
  const fbHost: number[] = [];
  for (let r = 0; r <= reps; r++) { // r = 0 warms up (pipeline compilation)
    const tf = await timeIt(backend, () => C.noGrad(loss));
    const before = backend.memory().bytesInUse;
    backend.resetPeak();
    const tb = await timeIt(backend, () => C.backward(loss()));
    if (r > 0) { fwd.push(tf.wall); fb.push(tb.wall); fbHost.push(tb.host); }
    if (r === reps) {
      // Extra = peak beyond what existed before and the gradient buffers as allocated.
      const peak = backend.memory().peakBytes - before - x.e.grad!.buffer.bytes - x.c.grad!.buffer.bytes;
      clearGrads();
      const dispatches = await C.scope(async () => {
        const n = countDispatches(backend, () => C.backward(loss()));
        await backend.flush();
        return n;
      });
      clearGrads();
      // Counting skipped tiles costs dispatches: only in this untimed last pass.
      const stats = new FilterStats();
      await C.scope(() => C.backward(lossOf(method, x, stats)));
      const grads = [Float32Array.from(await x.e.grad!.read()), Float32Array.from(await x.c.grad!.read())];
      clearGrads();
      const skipped = method === 'naive' ? undefined : await stats.skippedFraction();
      stats.dispose();
      return { fwd: median(fwd), fb: median(fb), fbHost: median(fbHost), dispatches, peak, skipped, grads };
    }
    clearGrads();
  }
  throw new Error('unreachable');
}

/** --profile: per-kernel GPU time of one forward+backward pass (backends with a timestamp profiler). */
async function profilePass(backend: Backend, method: Method, x: { e: Tensor; c: Tensor; t: Tensor }): Promise<void> {
  const prof = backend as Backend & { startProfiling?: () => unknown; stopProfiling?: () => Promise<{ table(): string }> };
  if (!prof.startProfiling || !prof.stopProfiling) { log(`  (${backend.name} has no profiler)`); return; }
  prof.startProfiling();
  await C.scope(async () => {
    C.backward(lossOf(method, x));
    await backend.flush();
  });
  log((await prof.stopProfiling()).table());
  for (const p of [x.e, x.c]) { p.grad?.dispose(); p.grad = null; }
}

function deviation(a: Float32Array[], b: Float32Array[]): number {
  let err = 0;
  let scale = 0;
  a.forEach((x, k) => x.forEach((v, i) => {
    err = Math.max(err, Math.abs(v - b[k]![i]!));
    scale = Math.max(scale, Math.abs(b[k]![i]!));
  }));
  return err / (scale || 1);
}

async function benchShape(backend: Backend, N: number, D: number, V: number, kind: 'random' | 'peaky'): Promise<Row[]> {
  log(`${backend.name}: N=${N} D=${D} V=${V} ${kind} data`);
  const data: CceData = kind === 'random' ? randomCceData(N, D, V, 1) : peakyCceData(N, D, V, 1, 10, N * V * D < 5e8);
  const x = {
    e: C.keep(C.tensor(data.e, [N, D], { backend })),
    c: C.keep(C.tensor(data.c, [V, D], { backend })),
    t: C.keep(C.tensor(data.targets, [N], { backend, dtype: 'i32' })),
  };
  x.e.requiresGrad = x.c.requiresGrad = true;
  const rows: Row[] = [];
  let unfiltered: Float32Array[] | null = null;
  let naiveFb: number | undefined;
  const binding = backend.capabilities.limits.maxStorageBufferBindingSize;
  for (const method of METHODS) {
    const row: Row = { backend: backend.name, data: kind, N, D, V, method, runnable: true };
    if (method === 'naive' && N * V * 4 > binding) {
      row.runnable = false;
      row.note = `logits need ${N * V * 4} bytes (${(N * V * 4 / MiB).toFixed(0)} MiB); the largest storage binding is ${binding} bytes`;
      rows.push(row);
      log(`  naive: not runnable: ${row.note}`);
      continue;
    }
    try {
      const m = await measure(backend, method, x);
      if (args.profile) await profilePass(backend, method, x);
      Object.assign(row, {
        forwardMs: m.fwd, forwardBackwardMs: m.fb, forwardBackwardHostMs: m.fbHost, dispatches: m.dispatches, hostUsPerDispatch: (m.fbHost * 1000) / m.dispatches,
        peakExtraBytes: m.peak, skippedTiles: m.skipped,
      });
      if (method === 'naive') naiveFb = m.fb;
      if (method === 'cce') unfiltered = m.grads;
      else if (unfiltered && method !== 'naive') row.gradDeviation = deviation(m.grads, unfiltered);
      if (naiveFb !== undefined) row.ratioToNaive = m.fb / naiveFb;
      log(`  ${method.padEnd(10)} fwd ${m.fwd.toFixed(2)} ms  fwd+bwd ${m.fb.toFixed(2)} ms (host ${m.fbHost.toFixed(1)}, ${m.dispatches} dispatches, ${((m.fbHost * 1000) / m.dispatches).toFixed(1)} µs each)  peak extra ${(m.peak / MiB).toFixed(2)} MiB` +
        (m.skipped !== undefined ? `  skipped ${(m.skipped * 100).toFixed(1)}%` : '') + (row.gradDeviation !== undefined ? `  deviation ${row.gradDeviation.toExponential(2)}` : ''));
    } catch (err) {
      row.runnable = false;
      row.note = (err as Error).message.split('\n')[0];
      log(`  ${method}: failed: ${row.note}`);
    }
    rows.push(row);
  }
  x.e.dispose(); x.c.dispose(); x.t.dispose();
  return rows;
}

function table(rows: Row[]): string {
  const head = ['backend', 'data', 'N', 'D', 'V', 'method', 'fwd ms', 'fwd+bwd ms', 'x naive', 'peak extra MiB', 'skipped', 'grad dev'];
  const body = rows.map((r) => [
    r.backend, r.data, String(r.N), String(r.D), String(r.V), r.method,
    r.forwardMs?.toFixed(2) ?? (r.runnable ? '' : 'n/a'), r.forwardBackwardMs?.toFixed(2) ?? (r.runnable ? '' : 'n/a'),
    r.ratioToNaive?.toFixed(2) ?? '', r.peakExtraBytes !== undefined ? (r.peakExtraBytes / MiB).toFixed(2) : '',
    r.skippedTiles !== undefined ? `${(r.skippedTiles * 100).toFixed(1)}%` : '', r.gradDeviation?.toExponential(1) ?? '',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

await loadBackends();
const names = args.backend ? [args.backend] : quick ? C.registeredBackends() : ['webgpu'];
const shapes: [number, number, number][] = args.shape ? [args.shape as [number, number, number]] : quick ? [[512, 64, 4096]] : FULL_SHAPES;
/** Where the full shapes take hours: a CPU backend, gpu.js off the GPU, or a software adapter. */
const crawls = (b: Backend) => b.name.startsWith('cpu') || b.name === 'gpujs:cpu' || b.name === 'gpujs:webasm' ||
  C.isSoftwareAdapter({ text: b.description });
const rows: Row[] = [];
for (const name of names) {
  let backend: Backend;
  try {
    backend = await C.startBackend(name, { log, verbose: args.verbose });
  } catch (err) {
    if (err instanceof C.CliUsageError || args.backend) C.exitWithError((err as Error).message.split('\n')[0]!, err instanceof C.CliUsageError ? 2 : 1);
    log(`${name}: unavailable: ${C.shortReason((err as Error).message, name)}`);
    continue;
  }
  if (!quick && !args.shape && !args.force && crawls(backend)) {
    backend.destroy();
    C.exitWithError(`the full shapes (GPT-2, N=16384, Gemma 2 2B) would take hours on ${backend.name} (${C.backendSummary(backend)}); ` +
      'pass --quick for small shapes, --shape N,D,V for one shape, or --force to run them anyway');
  }
  const slow = backend.name.startsWith('cpu');
  const started = performance.now();
  for (const [N, D, V] of shapes) {
    const [n, d, v] = slow ? [Math.min(N, 128), Math.min(D, 32), Math.min(V, 1024)] : [N, D, V];
    for (const kind of DATA) rows.push(...await benchShape(backend, n, d, v, kind));
  }
  log(`${backend.name}: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  backend.destroy();
}
if (json) console.log(JSON.stringify({ date: new Date().toISOString(), reps, scratchMiB: scratchBytes ? scratchBytes / 2 ** 20 : 'default', block: args.block ?? 'default', forwardBlock: args['forward-block'] ?? args.block ?? 'default', backwardBlock: args['backward-block'] ?? args.block ?? 'default', rows }, null, 2));
else console.log('\n' + table(rows));
