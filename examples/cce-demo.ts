// The main job for now: Cut Cross-Entropy against the naive loss on the best backend available.
// 1. A shape that fits both: loss and gradients agree, peak extra memory and time of each.
// 2. A shape whose N x V logits exceed the largest storage binding: the naive path is refused with the
//    numbers, CCE runs.
// Usage: pnpm start [-- --backend <name>] [--json] [--verbose]   (--help lists every flag)
// Progress lines (each phase as it starts, with the time so far) go to stdout, or to stderr with --json.
import * as C from '@cce/core';
import type { Backend, Tensor } from '@cce/core';
import { linearCrossEntropy, naiveLinearCrossEntropy } from '@cce/cce';
import { loadBackends } from './backends.js';

const args = await C.parseCli({
  command: 'pnpm start',
  summary: 'Cut Cross-Entropy against the naive loss (materialised logits): 1. at a shape that fits both (loss and gradients ' +
    'agree; peak extra memory and time of each), 2. at a shape whose N x V logits exceed the largest storage binding, where ' +
    'the naive path is refused with the numbers and CCE runs (skipped on the cpu reference, too slow there).',
  flags: {
    backend: C.commonFlags.backend,
    json: { ...C.commonFlags.json, description: 'print one JSON object with the results on stdout (progress goes to stderr)' },
    verbose: C.commonFlags.verbose,
  },
  notes: ['examples:\n  pnpm start\n  pnpm start -- --backend cpu\n  pnpm start -- --backend webgpu --json > demo.json'],
});
const out = C.cliLog(args.json);
const t0 = performance.now();
/** A progress line: what starts now, with the seconds since the start. */
const progress = (what: string, end = '...') => out(`   [${((performance.now() - t0) / 1000).toFixed(1)} s] ${what}${end}`);
/** A result line (stdout without --json; with --json the results go into the JSON object). */
const say = (line: string) => { if (!args.json) out(line); };
const MiB = 2 ** 20;

interface RunResult {
  loss: number;
  dE: Float32Array | Float64Array | Int32Array;
  dC: Float32Array | Float64Array | Int32Array;
  peakExtra: number;
  ms: number;
}

/** One forward + backward; peak extra bytes are measured beyond inputs and gradient outputs. */
type LossFn = (e: Tensor, c: Tensor, t: Tensor) => Tensor;

async function run(backend: Backend, fn: LossFn, e: Tensor, c: Tensor, t: Tensor): Promise<RunResult> {
  await backend.flush();
  const before = backend.memory().bytesInUse;
  backend.resetPeak();
  const started = performance.now();
  const loss = await C.scope(async () => {
    const l = fn(e, c, t);
    C.backward(l);
    return l.item();
  });
  const ms = performance.now() - started;
  // Beyond what existed before and the gradient buffers (as the backend allocated them).
  const peakExtra = backend.memory().peakBytes - before - e.grad!.buffer.bytes - c.grad!.buffer.bytes;
  const result = { loss, dE: await e.grad!.read(), dC: await c.grad!.read(), peakExtra, ms };
  e.grad!.dispose();
  c.grad!.dispose();
  e.grad = c.grad = null;
  return result;
}

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    err = Math.max(err, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return err / (scale || 1);
}

function inputs(N: number, D: number, V: number, backend: Backend) {
  const e = C.keep(C.randn([N, D], { seed: 1, std: 1, backend }));
  const c = C.keep(C.randn([V, D], { seed: 2, std: 1 / Math.sqrt(D), backend }));
  const t = C.keep(C.randint([N], 0, V, { seed: 3, backend }));
  e.requiresGrad = c.requiresGrad = true;
  return { e, c, t, dispose: () => [e, c, t].forEach((x) => x.dispose()) };
}

await loadBackends();
const backend = await C.cliBackend(args.backend, { log: out, verbose: args.verbose });
const gpu = backend.name === 'webgpu' || backend.name.startsWith('gpujs:webgpu');
const [N, D, V] = gpu ? [2048, 128, 8192] : [256, 32, 1024];
const report: Record<string, unknown> = { backend: backend.name, description: backend.description };
say(`\n1. naive vs CCE at N=${N} D=${D} V=${V} (logits ${(N * V * 4 / MiB).toFixed(1)} MiB)`);
{
  const x = inputs(N, D, V, backend);
  progress('warm-up: compiling CCE kernels');
  await run(backend, linearCrossEntropy, x.e, x.c, x.t);
  progress('warm-up: compiling the naive path\'s kernels');
  await run(backend, naiveLinearCrossEntropy, x.e, x.c, x.t);
  progress('naive forward+backward');
  const naive = await run(backend, naiveLinearCrossEntropy, x.e, x.c, x.t);
  progress('CCE forward+backward');
  const cce = await run(backend, linearCrossEntropy, x.e, x.c, x.t);
  x.dispose();
  const dE = maxRelDiff(cce.dE, naive.dE);
  const dC = maxRelDiff(cce.dC, naive.dC);
  say(`   loss      naive ${naive.loss.toFixed(6)}   CCE ${cce.loss.toFixed(6)}`);
  say(`   gradients max difference relative to max |grad|: dE ${dE.toExponential(2)}, dC ${dC.toExponential(2)}`);
  say(`   peak extra memory   naive ${(naive.peakExtra / MiB).toFixed(2)} MiB   CCE ${(cce.peakExtra / MiB).toFixed(2)} MiB`);
  say(`   forward+backward    naive ${naive.ms.toFixed(0)} ms   CCE ${cce.ms.toFixed(0)} ms`);
  const summary = (r: RunResult) => ({ loss: r.loss, peakExtraBytes: r.peakExtra, forwardBackwardMs: r.ms });
  report.fits = { N, D, V, naive: summary(naive), cce: summary(cce), gradDeviation: { dE, dC } };
}

const binding = backend.capabilities.limits.maxStorageBufferBindingSize;
if (backend.name.startsWith('cpu')) {
  say(`\n2. skipped: a shape whose logits exceed ${(binding / MiB).toFixed(0)} MiB takes too long on the reference interpreter; run on webgpu or gpujs`);
  report.beyondBinding = { skipped: 'too slow on the reference interpreter' };
} else {
  const [N2, D2] = gpu ? [4096, 64] : [2048, 32];
  const V2 = Math.ceil((binding + 1) / (N2 * 4) / 1024) * 1024;
  say(`\n2. N=${N2} D=${D2} V=${V2}: logits would be ${(N2 * V2 * 4 / MiB).toFixed(0)} MiB, the largest binding is ${(binding / MiB).toFixed(0)} MiB`);
  const x = inputs(N2, D2, V2, backend);
  let refused: string | null = null;
  progress('naive forward+backward (expected to be refused)');
  try {
    await run(backend, naiveLinearCrossEntropy, x.e, x.c, x.t);
    say('   naive: ran (unexpected)');
  } catch (err) {
    refused = (err as Error).message.split('\n')[0]!;
    say(`   naive: refused: ${refused}`);
  }
  progress(`CCE forward+backward over ${V2} vocabulary entries (the longest step${gpu ? '' : ' off the GPU'})`);
  const cce = await run(backend, linearCrossEntropy, x.e, x.c, x.t);
  x.dispose();
  say(`   CCE: loss ${cce.loss.toFixed(4)}, peak extra ${(cce.peakExtra / MiB).toFixed(2)} MiB, ${cce.ms.toFixed(0)} ms`);
  report.beyondBinding = { N: N2, D: D2, V: V2, bindingBytes: binding, naiveRefused: refused, cce: { loss: cce.loss, peakExtraBytes: cce.peakExtra, forwardBackwardMs: cce.ms } };
}
progress('done', '');
if (args.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
backend.destroy();
