// Every CCE kernel variant (simple and tiled) against the naive path in float64 on the reference
// interpreter, at odd shapes spanning several 64 x 64 tiles with ragged edges, with filtering on.
import { suite } from 'uvu';
import * as C from '@cce/core';
import { linearCrossEntropy, naiveLinearCrossEntropy, randomCceData, peakyCceData, setBlockShape, resetBlockShapes } from '@cce/cce';
import { compareArrays } from '../support/conformance.js';

const s = suite('cce: variants on the reference');
const OPS = ['cce.lse', 'cce.gradBlock', 'cce.gradE', 'cce.gradC'];

async function withAll<T>(variant: string, fn: () => Promise<T>): Promise<T> {
  const run = (i: number): Promise<T> => (i === OPS.length ? fn() : C.withVariant(OPS[i]!, variant, () => run(i + 1)));
  return run(0);
}

// A small scratch gives several vocabulary chunks; a large one a single chunk with dC split over tokens.
// Without softcap (with it, label smoothing makes every term dense) the tiled kernels use block bounds.
for (const variant of ['simple', 'tiled 64/4x4', 'tiled 64/8x8', 'tiled 128/8x8', 'tiled 128/8x8/k16']) {
  for (const [kind, scratchCols, softcap] of [['random', 96, 5], ['peaky', 96, 5], ['random', 4096, 5], ['peaky', 256, 0]] as const) {
    const what = softcap ? 'all options' : 'all options but softcap';
    s(`${variant} kernels, ${kind} data, ${what}, filter 'auto', scratch of ${scratchCols} columns`, async () => {
      if (variant !== 'simple') setBlockShape(variant.split(' ')[1]!);
      const f64 = new C.CpuBackend({ precision: 'f64', subgroupSize: 8 });
      const [B, T, D, V] = [2, 37, softcap ? 67 : 68, 150]; // an even D (68) reads e and c as vec4s in dE and dC
      const data = kind === 'random' ? randomCceData(B * T, D, V, 21, 0.2) : peakyCceData(B * T, D, V, 21);
      const run = async (fused: boolean) => C.scope(async () => {
        const e = C.tensor(data.e, [B, T, D], { backend: f64 });
        const c = C.tensor(data.c, [V, D], { backend: f64 });
        const bias = C.randn([V], { seed: 3, std: 0.3, backend: f64 });
        const t = C.tensor(data.targets, [B, T], { backend: f64, dtype: 'i32' });
        for (const x of [e, c, bias]) x.requiresGrad = true;
        const opts = { bias, shift: 1, ...(softcap ? { softcap } : {}), labelSmoothing: 0.05, zLoss: 1e-3, scratchBytes: 4 * B * T * scratchCols };
        const loss = fused ? linearCrossEntropy(e, c, t, { ...opts, filterEps: 'auto' }) : naiveLinearCrossEntropy(e, c, t, opts);
        C.backward(loss);
        return [await loss.read(), await e.grad!.read(), await c.grad!.read(), await bias.grad!.read()];
      });
      const want = await run(false);
      const got = await withAll(variant.split(' ')[0]!, () => run(true));
      resetBlockShapes();
      // Filtering at 2^-24 may drop terms below f32 resolution: compare at that scale.
      want.forEach((w, i) => compareArrays(`${variant} output ${i}`, got[i]!, w, 1e-6, 1e-12));
    });
  }
}

s.run();

const blocks = suite('cce: classifier larger than one binding');
for (const [variant, ignoreIndex] of [['simple', -100], ['tiled', -100], ['tiled', 0]] as const) {
  blocks(`${variant} kernels, ignoreIndex ${ignoreIndex}: c in binding windows matches the naive path`, async () => {
    // A binding of 64 rows makes c [200, 67] four windows (the last shorter). Targets 28 and 92 are
    // 100 below the window starts 128 and 192: made relative to those windows they would read as the
    // default ignoreIndex; with ignoreIndex 0, targets 64, 128 and 192 would.
    const [N, D, V] = [41, 67, 200];
    const small = new C.CpuBackend({ precision: 'f64', maxStorageBufferBindingSize: 64 * 67 * 4 + 1000 });
    const whole = new C.CpuBackend({ precision: 'f64' });
    const data = peakyCceData(N, D, V, 8);
    const run = async (backend: C.Backend, fused: boolean) => C.scope(async () => {
      const e = C.tensor(data.e, [N, D], { backend });
      const c = C.tensor(data.c, [V, D], { backend });
      const bias = C.randn([V], { seed: 4, std: 0.2, backend });
      const special = [28, 92, 64, 128, 192];
      const t = C.tensor(data.targets.map((x, i) => (i % 7 === 3 ? ignoreIndex : i < special.length ? special[i]! : x)), [N], { backend, dtype: 'i32' });
      for (const x of [e, c, bias]) x.requiresGrad = true;
      const opts = { bias, ignoreIndex, labelSmoothing: 0.1, zLoss: 1e-3, scratchBytes: 4 * N * 32 };
      const loss = fused ? linearCrossEntropy(e, c, t, opts) : naiveLinearCrossEntropy(e, c, t, opts);
      C.backward(loss);
      return [await loss.read(), await e.grad!.read(), await c.grad!.read(), await bias.grad!.read()];
    });
    const want = await run(whole, false);
    const got = await withAll(variant, () => run(small, true));
    want.forEach((w, i) => compareArrays(`${variant} output ${i}`, got[i]!, w, 1e-6, 1e-12));
  });
}
blocks.run();
