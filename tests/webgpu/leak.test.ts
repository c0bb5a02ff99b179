// A training-like loop on WebGPU (a two-layer MLP with cross-entropy, backward, SGD through assign): the
// live-buffer count and the bytes in use are the same after every step, and after the first step the
// pool serves every allocation (no growth of pooled plus live bytes). The loss must go down.
import { suite } from 'uvu';
import * as C from '@cce/core';
import type { Tensor } from '@cce/core';
import '../../packages/core/src/ops/tuned/index.js';
import { requireBackend, webgpuAvailable } from './support.js';

if (await webgpuAvailable('leak')) {
  const s = suite('leak: webgpu training loop');
  s('live buffers unchanged after each step of a training-like loop', async () => {
    const be = await requireBackend();
    const rng = C.mulberry32(3);
    const randn = (shape: number[], scale: number) =>
      C.keep(C.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (rng() * 2 - 1) * scale), shape, { backend: be }));
    const params: Tensor[] = [randn([36, 48], 0.3), randn([48], 0.1), randn([48, 29], 0.3)];
    for (const p of params) p.requiresGrad = true;
    const x = randn([40, 36], 1);
    const targets = C.keep(C.tensor(Int32Array.from({ length: 40 }, (_, i) => (i * 7) % 29), [40], { backend: be, dtype: 'i32' }));
    const [w1, b1, w2] = params as [Tensor, Tensor, Tensor];
    const start = be.memory();
    let footprint = -1;
    const losses: number[] = [];
    for (let step = 0; step < 6; step++) {
      const loss = await C.scope(async () => {
        const h = C.tanh(C.add(C.matmul(x, w1), b1));
        const l = C.crossEntropy(C.matmul(h, w2), targets);
        C.backward(l);
        C.noGrad(() => {
          for (const p of params) {
            p.assign(C.sub(p, C.mulScalar(p.grad!, 0.5)));
            p.grad!.dispose();
            p.grad = null;
          }
        });
        return l.item();
      });
      losses.push(loss);
      if (process.env.SHOW_TIMES) console.log(`step ${step} ${performance.now().toFixed(0)} pipelines ${(be as any).pipelineCount}`);
      const m = be.memory();
      if (m.liveBuffers !== start.liveBuffers || m.bytesInUse !== start.bytesInUse) {
        throw new Error(`step ${step}: ${m.liveBuffers} live buffers (${m.bytesInUse} bytes), ${start.liveBuffers} (${start.bytesInUse} bytes) before the loop`);
      }
      const total = m.bytesInUse + m.pooledBytes;
      if (step === 1) footprint = total;
      if (step > 1 && total > footprint) throw new Error(`step ${step}: pooled + live bytes grew from ${footprint} to ${total}`);
    }
    if (!(losses[losses.length - 1]! < losses[0]!)) throw new Error(`loss did not decrease: ${losses.join(', ')}`);
    for (const t of [...params, x, targets]) t.dispose();
  });
  s.run();
}
