// Gradients of a small MLP (matmul, bias, tanh, matmul, cross-entropy with ignored targets) on every gpu.js
// mode here against the float64 reference. The hidden layer has 64 x 96 outputs, so 'webasm' runs it on
// gpu.js's worker pool (threads) as well as in-thread.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as C from '@cce/core';
import { type GpujsBackend, createGpujsBackend } from '@cce/backend-gpujs';
import { compareArrays } from '../support/conformance.js';
import { hostInput } from '@cce/core';
import { testModes } from './modes.js';

const B = 64, D = 33, H = 96, K = 11;

interface Run { loss: number; grads: ArrayLike<number>[] }

async function runMlp(backend: C.Backend): Promise<Run> {
  const rng = C.mulberry32(7);
  const prev = C.getBackendOrNull();
  C.setBackend(backend);
  try {
    return await C.scope(async () => {
      const x = C.tensor(hostInput({ shape: [B, D] }, rng), [B, D]);
      const params = [
        C.tensor(hostInput({ shape: [D, H] }, rng).map((v) => v / Math.sqrt(D)), [D, H]),
        C.tensor(hostInput({ shape: [H] }, rng), [H]),
        C.tensor(hostInput({ shape: [H, K] }, rng).map((v) => v / Math.sqrt(H)), [H, K]),
        C.tensor(hostInput({ shape: [K] }, rng), [K]),
      ];
      for (const p of params) p.requiresGrad = true;
      const targets = C.tensor(hostInput({ shape: [B], dtype: 'i32', low: 0, high: K, ignoreFraction: 0.1 }, rng), [B], { dtype: 'i32' });
      const [w1, b1, w2, b2] = params as [C.Tensor, C.Tensor, C.Tensor, C.Tensor];
      const hidden = C.tanh(C.add(C.matmul(x, w1), b1));
      const loss = C.crossEntropy(C.add(C.matmul(hidden, w2), b2), targets);
      C.backward(loss);
      const grads: ArrayLike<number>[] = [];
      for (const p of params) {
        grads.push(await p.grad!.read());
        p.grad!.dispose();
        p.grad = null;
      }
      return { loss: await loss.item(), grads };
    });
  } finally {
    C.setBackend(prev);
  }
}

const s = suite('gpujs: MLP gradients vs f64 reference');
let want: Run;
s.before(async () => {
  want = await runMlp(new C.CpuBackend({ precision: 'f64' }));
});

for (const mode of await testModes()) {
  s(`gpujs:${mode}`, async () => {
    const backend: GpujsBackend = await createGpujsBackend(mode);
    try {
      const live = backend.memory().liveBuffers;
      const got = await runMlp(backend);
      assert.ok(Math.abs(got.loss - want.loss) <= 1e-5 * Math.abs(want.loss), `loss ${got.loss} vs ${want.loss}`);
      ['W1', 'b1', 'W2', 'b2'].forEach((name, i) => compareArrays(`d${name} on gpujs:${mode}`, got.grads[i]!, want.grads[i]!, 1e-4));
      assert.is(backend.memory().liveBuffers, live, 'no buffers leak');
      if (mode === 'webasm' && backend.description.includes('worker threads')) {
        const runs = backend.runCounts();
        assert.ok((runs.threaded ?? 0) > 0, `the worker pool ran no kernel: ${JSON.stringify(runs)}`);
      }
    } finally {
      backend.destroy();
    }
  });
}
s.run();
