// The main job for now: Cut Cross-Entropy against the naive loss on the best backend available.
// 1. A shape that fits both: loss and gradients agree, peak extra memory and time of each.
// 2. A shape whose N x V logits exceed the largest storage binding: the naive path is refused with the
//    numbers, CCE runs.
// Usage: pnpm start [-- --backend <name>]
import * as C from '@cce/core';
import type { Backend, Tensor } from '@cce/core';
import { linearCrossEntropy, naiveLinearCrossEntropy } from '@cce/cce';
import { loadBackends } from './backends.js';

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
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
const backend = await C.useBackend(flag('backend') ?? process.env.CCE_BACKEND);
const gpu = backend.name === 'webgpu' || backend.name.startsWith('gpujs:webgpu');
const [N, D, V] = gpu ? [2048, 128, 8192] : [256, 32, 1024];
console.log(`\n1. naive vs CCE at N=${N} D=${D} V=${V} (logits ${(N * V * 4 / MiB).toFixed(1)} MiB)`);
{
  const x = inputs(N, D, V, backend);
  await run(backend, linearCrossEntropy, x.e, x.c, x.t); // warm-up: compile kernels
  await run(backend, naiveLinearCrossEntropy, x.e, x.c, x.t);
  const naive = await run(backend, naiveLinearCrossEntropy, x.e, x.c, x.t);
  const cce = await run(backend, linearCrossEntropy, x.e, x.c, x.t);
  x.dispose();
  console.log(`   loss      naive ${naive.loss.toFixed(6)}   CCE ${cce.loss.toFixed(6)}`);
  console.log(`   gradients max difference relative to max |grad|: dE ${maxRelDiff(cce.dE, naive.dE).toExponential(2)}, dC ${maxRelDiff(cce.dC, naive.dC).toExponential(2)}`);
  console.log(`   peak extra memory   naive ${(naive.peakExtra / MiB).toFixed(2)} MiB   CCE ${(cce.peakExtra / MiB).toFixed(2)} MiB`);
  console.log(`   forward+backward    naive ${naive.ms.toFixed(0)} ms   CCE ${cce.ms.toFixed(0)} ms`);
}

const binding = backend.capabilities.limits.maxStorageBufferBindingSize;
if (backend.name.startsWith('cpu')) {
  console.log(`\n2. skipped: a shape whose logits exceed ${(binding / MiB).toFixed(0)} MiB takes too long on the reference interpreter; run on webgpu or gpujs`);
} else {
  const [N2, D2] = gpu ? [4096, 64] : [2048, 32];
  const V2 = Math.ceil((binding + 1) / (N2 * 4) / 1024) * 1024;
  console.log(`\n2. N=${N2} D=${D2} V=${V2}: logits would be ${(N2 * V2 * 4 / MiB).toFixed(0)} MiB, the largest binding is ${(binding / MiB).toFixed(0)} MiB`);
  const x = inputs(N2, D2, V2, backend);
  try {
    await run(backend, naiveLinearCrossEntropy, x.e, x.c, x.t);
    console.log('   naive: ran (unexpected)');
  } catch (err) {
    console.log(`   naive: refused: ${(err as Error).message.split('\n')[0]}`);
  }
  const cce = await run(backend, linearCrossEntropy, x.e, x.c, x.t);
  x.dispose();
  console.log(`   CCE: loss ${cce.loss.toFixed(4)}, peak extra ${(cce.peakExtra / MiB).toFixed(2)} MiB, ${cce.ms.toFixed(0)} ms`);
}
