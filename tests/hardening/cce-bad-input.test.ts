// CCE with bad or degenerate input on every backend: clear errors naming the option or the numbers, and
// PyTorch's values for zero-size problems and a mean over no valid token.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as C from '@cce/core';
import type { Backend } from '@cce/core';
import { createGpujsBackend } from '@cce/backend-gpujs';
import { linearCrossEntropy, naiveLinearCrossEntropy } from '@cce/cce';
import { requireBackend, webgpuAvailable } from '../webgpu/support.js';

type Loss = typeof linearCrossEntropy | typeof naiveLinearCrossEntropy;
const paths: [string, Loss][] = [['fused', linearCrossEntropy], ['naive', naiveLinearCrossEntropy]];

/** Loss and gradients of e, c (and bias) for [B, T, D] hidden states and V entries. */
async function run(backend: Backend, fn: Loss, [B, T, D, V]: number[], targets: number[] | null, opts: Record<string, unknown> = {}) {
  return C.scope(async () => {
    const e = C.randn([B!, T!, D!], { seed: 1, backend });
    const c = C.randn([V!, D!], { seed: 2, backend });
    const bias = C.randn([V!], { seed: 3, backend });
    const t = targets ? C.tensor(targets, [B!, T!], { dtype: 'i32', backend }) : C.randint([B!, T!], 0, V!, { seed: 4, backend });
    for (const x of [e, c, bias]) x.requiresGrad = true;
    const loss = (fn as typeof naiveLinearCrossEntropy)(e, c, t, { bias, ...opts });
    C.backward(loss, loss.rank ? C.onesLike(loss) : undefined);
    const grads = await Promise.all([e, c, bias].map(async (x) => ({ shape: [...x.grad!.shape], values: Array.from(await x.grad!.read()) })));
    return { loss: Array.from(await loss.read()), lossShape: [...loss.shape], grads };
  });
}

function badInputSuite(name: string, makeBackend: () => Promise<Backend>) {
  const s = suite(name);
  let backend: Backend;
  s.before(async () => { backend = await makeBackend(); });

  for (const [path, fn] of paths) {
    s(`${path}: a misspelt option is refused with the known names`, () => {
      assert.throws(() => C.noGrad(() => {
        const e = C.randn([1, 3, 2], { backend });
        return (fn as typeof naiveLinearCrossEntropy)(e, C.randn([4, 2], { backend }), C.tensor([0, 1, 2], [1, 3], { dtype: 'i32', backend }), { ignore_index: 3 } as never);
      }), /linearCrossEntropy: unknown option 'ignore_index' \(known: bias, ignoreIndex, reduction/);
    });

    s(`${path}: a shift as long as the sequence is refused, naming both`, () => {
      assert.throws(() => C.noGrad(() => {
        const e = C.randn([2, 3, 2], { backend });
        return fn(e, C.randn([4, 2], { backend }), C.tensor([0, 1, 2, 0, 1, 2], [2, 3], { dtype: 'i32', backend }), { shift: 3 });
      }), /linearCrossEntropy: shift 3 leaves nothing to predict in sequences of length 3/);
    });

    s(`${path}: no token (N = 0): loss NaN (mean), 0 (sum), empty (none); zero gradients`, async () => {
      for (const reduction of ['mean', 'sum', 'none'] as const) {
        const r = await run(backend, fn, [0, 5, 4, 9], [], { reduction });
        const want = { mean: [NaN], sum: [0], none: [] }[reduction];
        assert.equal(r.loss.length, want.length, reduction);
        if (want.length) assert.ok(Object.is(r.loss[0], want[0]) || (Number.isNaN(r.loss[0]) && Number.isNaN(want[0])), `${reduction}: loss ${r.loss[0]}`);
        assert.equal(r.grads.map((g) => g.shape), [[0, 5, 4], [9, 4], [9]]);
        for (const g of r.grads) assert.ok(g.values.every((v) => v === 0), `${reduction}: gradients are zero`);
      }
    });

    s(`${path}: every target ignored: a NaN mean, 0 sum, zero gradients`, async () => {
      const ignored = [-100, -100, -100, -100];
      const mean = await run(backend, fn, [1, 4, 3, 5], ignored);
      assert.ok(Number.isNaN(mean.loss[0]), `mean loss ${mean.loss[0]}`);
      for (const g of mean.grads) assert.ok(g.values.every((v) => v === 0), 'zero gradients');
      const total = await run(backend, fn, [1, 4, 3, 5], ignored, { reduction: 'sum' });
      assert.equal(total.loss, [0]);
    });

    s(`${path}: a device-computed target outside the vocabulary gives that token a NaN loss`, async () => {
      const losses = await C.scope(async () => {
        const e = C.randn([1, 3, 2], { seed: 5, backend });
        // Made on the device (no host copy), so it cannot be checked before the kernels run.
        const t = C.reshape(C.cast(C.tensor([0, 9, 2], [3], { backend }), 'i32'), [1, 3]);
        assert.is(t.hostValues, null);
        return Array.from(await C.noGrad(() => (fn as typeof naiveLinearCrossEntropy)(e, C.randn([4, 2], { seed: 6, backend }), t, { reduction: 'none' })).read());
      });
      assert.ok(Number.isFinite(losses[0]!) && Number.isNaN(losses[1]!) && Number.isFinite(losses[2]!), `per-token losses ${losses}`);
    });

    s(`${path}: D = 0: every logit is the bias`, async () => {
      const r = await run(backend, fn, [1, 3, 0, 4], [0, 1, 3], { reduction: 'sum' });
      const b = Array.from(await C.randn([4], { seed: 3, backend }).read());
      const lse = Math.log(b.reduce((a, x) => a + Math.exp(x), 0));
      const want = 3 * lse - b[0]! - b[1]! - b[3]!;
      assert.ok(Math.abs(r.loss[0]! - want) < 1e-5, `loss ${r.loss[0]} against ${want}`);
    });
  }

  s('fused: two vocabulary entries masked by a -inf bias give the unmasked loss (N=6 V=10)', async () => {
    const result = (opts: Record<string, unknown>) => C.scope(async () => {
      const e = C.randn([6, 5], { seed: 7, backend });
      const c = C.randn([10, 5], { seed: 8, backend });
      e.requiresGrad = true;
      const bias = C.tensor(Array.from({ length: 10 }, (_, v) => (v === 2 || v === 9 ? -Infinity : 0)), [10], { backend });
      const t = C.tensor([0, 1, 3, 4, 5, 6], [6], { dtype: 'i32', backend });
      const loss = linearCrossEntropy(e, c, t, { bias, ...opts });
      C.backward(loss);
      return [await loss.item(), ...(await e.grad!.read())];
    });
    const [sorted, unsorted] = [await result({}), await result({ sortVocab: false })];
    sorted.forEach((x, i) => assert.ok(Math.abs(x - unsorted[i]!) < 1e-6, `output ${i}: sorted ${x}, unsorted ${unsorted[i]}`));
  });
  return s;
}

badInputSuite('cce bad input: cpu', async () => new C.CpuBackend({ precision: 'f32' })).run();
if (await webgpuAvailable('cce bad input')) badInputSuite('cce bad input: webgpu', requireBackend).run();
badInputSuite('cce bad input: gpujs:webasm', () => createGpujsBackend('webasm')).run();
