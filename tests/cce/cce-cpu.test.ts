// CCE on the reference interpreter: against the naive path in float64, by gradcheck, by the official
// criterion in float32, with clear errors; filtering and sorting on peaky data.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as C from '@cce/core';
import { FilterStats, linearCrossEntropy, meanEntropy, naiveLinearCrossEntropy, peakyCceData, randomCceData, toTensors } from '@cce/cce';
import { cceCases, cceCriterionSuite } from '../support/cce-criterion.js';
import { compareArrays } from '../support/conformance.js';

const s = suite('cce: reference');
const f64 = new C.CpuBackend({ precision: 'f64' });

for (const c of cceCases) {
  s(`f64: fused equals naive (${c.name}), with a scratch of several chunks`, async () => {
    const [B, T, D, V] = [2, 11, 7, 97];
    const data = randomCceData(B * T, D, V, 3, 0.2);
    const run = async (fused: boolean) => C.scope(async () => {
      const e = C.tensor(data.e, [B, T, D], { backend: f64 });
      const cl = C.tensor(data.c, [V, D], { backend: f64 });
      const bias = c.opts.bias ? C.randn([V], { seed: 5, backend: f64 }) : undefined;
      const t = C.tensor(data.targets, [B, T], { backend: f64, dtype: 'i32' });
      for (const x of [e, cl, ...(bias ? [bias] : [])]) x.requiresGrad = true;
      const opts = { ...c.opts, bias, scratchBytes: 4 * B * T * 40 };
      const loss = fused ? linearCrossEntropy(e, cl, t, opts) : naiveLinearCrossEntropy(e, cl, t, opts);
      C.backward(loss, loss.rank ? C.randn(loss.shape, { seed: 8, backend: f64 }) : undefined);
      return [await loss.read(), ...(await Promise.all([e, cl, ...(bias ? [bias] : [])].map((x) => x.grad!.read())))];
    });
    const [naive, fused] = [await run(false), await run(true)];
    naive.forEach((want, i) => compareArrays(`${c.name} output ${i}`, fused[i]!, want, 1e-12, 1e-13));
  });
}

s('gradcheck of the fused op (all options on)', async () => {
  const [N, D, V] = [6, 5, 37];
  const data = randomCceData(N, D, V, 4, 0.2);
  C.setBackend(f64);
  const e = C.tensor(data.e, [1, N, D]);
  const cl = C.tensor(data.c, [V, D]);
  const bias = C.randn([V], { seed: 2 });
  const t = C.tensor(data.targets, [1, N], { dtype: 'i32' });
  const result = await C.gradcheck(
    (ev, cv, bv, tv) => linearCrossEntropy(ev, cv, tv, { bias: bv, shift: 1, softcap: 3, labelSmoothing: 0.2, zLoss: 0.01, scratchBytes: 4 * N * 32 }),
    [e, cl, bias, t]);
  assert.ok(result.ok, C.formatGradcheck(result));
});

s('returnLse gives log-sum-exp per token with the targets shape', async () => {
  const data = randomCceData(10, 4, 9, 6);
  const { e, c, targets } = toTensors(data, 10, 4, 9, f64);
  const { lse } = linearCrossEntropy(C.reshape(e, [2, 5, 4]), c, C.reshape(targets, [2, 5]), { returnLse: true });
  assert.equal([...lse.shape], [2, 5]);
  const want = await C.logsumexp(C.matmul(e, c, { transB: true })).read();
  compareArrays('lse', await lse.read(), want, 1e-12, 1e-12);
});

s('clear errors: out-of-range targets, shapes, dtypes, options', () => {
  const data = randomCceData(4, 3, 5, 1);
  const { e, c } = toTensors(data, 4, 3, 5, f64);
  const bad = C.tensor([0, 5, 1, -100], [4], { backend: f64, dtype: 'i32' });
  assert.throws(() => linearCrossEntropy(e, c, bad), /target 5 at position 1 is outside the vocabulary \[0, 5\)/);
  assert.throws(() => naiveLinearCrossEntropy(e, c, bad), /target 5 at position 1 is outside the vocabulary/);
  const ok = C.tensor([0, 4, 1, -100], [4], { backend: f64, dtype: 'i32' });
  assert.throws(() => linearCrossEntropy(e, C.zeros([5, 2], { backend: f64 }), ok), /differ in D/);
  assert.throws(() => linearCrossEntropy(e, c, C.zeros([4], { backend: f64 })), /targets must be i32/);
  assert.throws(() => linearCrossEntropy(e, c, C.tensor([0, 1], [2], { backend: f64, dtype: 'i32' })), /targets \[2\] must match e's leading dims \[4\]/);
  assert.throws(() => linearCrossEntropy(e, c, ok, { labelSmoothing: 1 }), /labelSmoothing must be in \[0, 1\)/);
  assert.throws(() => linearCrossEntropy(e, c, ok, { reduction: 'avg' as 'mean' }), /reduction must be/);
});

s('no buffers outlive a loss computed outside any scope; shifted-out targets are not validated', async () => {
  const backend = new C.CpuBackend();
  const data = randomCceData(6, 4, 9, 2);
  const { e, c } = toTensors(data, 6, 4, 9, backend);
  const t = C.tensor([50, 1, 2, 3, 4, 5], [6], { backend, dtype: 'i32' }); // 50 sits where shift 1 never predicts
  const live = backend.memory().liveBuffers;
  const loss = C.noGrad(() => linearCrossEntropy(e, c, t, { shift: 1 }));
  assert.ok(Number.isFinite(await loss.item()));
  loss.dispose();
  assert.is(backend.memory().liveBuffers, live);
  assert.throws(() => linearCrossEntropy(e, c, t), /target 50 at position 0 is outside the vocabulary/);
});

s('targets computed on the device: an out-of-range target gives NaN, never an out-of-bounds read', async () => {
  const data = randomCceData(4, 3, 5, 1);
  const { e, c } = toTensors(data, 4, 3, 5, f64);
  const device = C.addScalar(C.cast(C.tensor([0, 1, 2, 3], [4], { backend: f64, dtype: 'i32' }), 'f32'), 3);
  const t = C.cast(device, 'i32'); // [3, 4, 5, 6]: no host copy
  assert.is(t.hostValues, null);
  const loss = await linearCrossEntropy(e, c, t, { reduction: 'none' }).read();
  assert.ok(Number.isFinite(loss[0]!) && Number.isFinite(loss[1]!));
  assert.ok(Number.isNaN(loss[2]!) && Number.isNaN(loss[3]!));
});

s('peaky data: entropy near 3 nats; filtering skips tiles and stays within tolerance', async () => {
  const [N, D, V] = [96, 12, 1024];
  const data = peakyCceData(N, D, V, 11);
  const entropy = meanEntropy(data, N, D, V);
  console.log(`\n    peaky data: mean softmax entropy ${entropy.toFixed(2)} nats`);
  assert.ok(entropy > 2 && entropy < 4, `entropy ${entropy}`);
  const f32 = new C.CpuBackend({ precision: 'f32' });
  const run = async (filterEps: 'auto' | number | null, sortVocab = true) => C.scope(async () => {
    const { e, c, targets } = toTensors(data, N, D, V, f32);
    e.requiresGrad = c.requiresGrad = true;
    const stats = new FilterStats();
    C.backward(linearCrossEntropy(e, c, targets, { filterEps, sortVocab, filterStats: stats }));
    const skipped = await stats.skippedFraction();
    stats.dispose();
    return { skipped, dE: await e.grad!.read(), dC: await c.grad!.read() };
  });
  const dense = await run(null);
  assert.is(dense.skipped, 0);
  const deviation = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let err = 0;
    let scale = 0;
    for (let i = 0; i < b.length; i++) {
      err = Math.max(err, Math.abs(a[i]! - b[i]!));
      scale = Math.max(scale, Math.abs(b[i]!));
    }
    return err / scale;
  };
  // 'auto' must stay within the gradient tolerance (5e-4 of max |grad|); 2^-12 is the official CCE's
  // bf16 threshold, coarser than f32: its deviation is reported and bounded at 1e-2.
  for (const [eps, tol] of [['auto', 5e-4], [2 ** -12, 1e-2]] as const) {
    const filtered = await run(eps);
    const unsorted = await run(eps, false);
    const dev = Math.max(deviation(filtered.dE, dense.dE), deviation(filtered.dC, dense.dC));
    console.log(`    filterEps ${eps}: ${(filtered.skipped * 100).toFixed(1)}% of tiles skipped sorted, ${(unsorted.skipped * 100).toFixed(1)}% unsorted; gradient deviation ${dev.toExponential(2)} of max |grad|`);
    assert.ok(filtered.skipped > 0.3, `only ${filtered.skipped} skipped`);
    assert.ok(filtered.skipped > unsorted.skipped, 'sorting did not cluster skippable entries');
    assert.ok(dev <= tol, `filtered gradients deviate by ${dev} > ${tol}`);
  }
});

s.run();

cceCriterionSuite('cce: criterion on cpu f32', async () => new C.CpuBackend({ precision: 'f32' })).run();
