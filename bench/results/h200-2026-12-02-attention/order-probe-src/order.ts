import * as C from '@cce/core';
import { causalAttention, causalMask } from '@cce/nn';
import { createWebGpuBackend } from '@cce/backend-webgpu';
const be = await createWebGpuBackend();
C.setBackend(be);
const mk = (shape: number[]) => { const n = shape.reduce((a, b) => a * b, 1); const r = C.mulberry32(1); return C.keep(C.tensor(Float32Array.from({ length: n }, () => r() * 2 - 1), shape, { backend: be })); };
const inputs = (shape: number[]) => { const q = mk(shape), k = mk(shape), v = mk(shape), g = mk(shape); q.requiresGrad = k.requiresGrad = v.requiresGrad = true; return { q, k, v, g }; };
const composed = (q: C.Tensor, k: C.Tensor, v: C.Tensor) => { const T = q.shape[2]!, dh = q.shape[3]!; return C.matmul(C.softmax(C.add(C.mulScalar(C.matmul(q, k, { transB: true }), 1 / Math.sqrt(dh)), causalMask(T, be)), -1), v); };
async function time(label: string, x: ReturnType<typeof inputs>, fn: typeof composed, reps = 8) {
  const issue: number[] = [], total: number[] = [];
  for (let r = 0; r <= reps; r++) {
    await be.flush();
    const t0 = performance.now();
    let t1 = 0;
    await C.scope(async () => { C.backward(fn(x.q, x.k, x.v), x.g); t1 = performance.now(); await be.flush(); });
    const t2 = performance.now();
    for (const t of [x.q, x.k, x.v]) { t.grad?.dispose(); t.grad = null; }
    if (r) { issue.push(t1 - t0); total.push(t2 - t0); }
  }
  const med = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1]!.toFixed(2);
  const m = be.memory();
  console.log(`${label}: issue ${med(issue)} ms, total ${med(total)} ms; pooled ${(m.pooledBytes / 2 ** 20).toFixed(0)} MiB, live ${m.liveBuffers}`);
}
const big = inputs([8, 12, 1024, 64]);
const fused = (q: C.Tensor, k: C.Tensor, v: C.Tensor) => causalAttention(q, k, v);
await time('tiles T1024, first', big, fused);
const small = inputs([16, 4, 128, 64]);
await time('tiles T128', small, fused);
await time('tiles T1024, after tiles T128', big, fused);
await time('composed T128', small, composed);
await time('tiles T1024, after composed T128', big, fused);
await time('tiles T1024, again', big, fused);
