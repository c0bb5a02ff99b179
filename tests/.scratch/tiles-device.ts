import * as C from '@cce/core';
import { causalAttention } from '@cce/nn';
import { createWebGpuBackend } from '@cce/backend-webgpu';
const run = async (be: C.Backend, shape: number[], variant: any, seed = 1) => C.scope(async () => {
  const n = shape.reduce((a, b) => a * b, 1);
  const mk = (s: number) => { const r = C.mulberry32(s); const t = C.tensor(Float64Array.from({ length: n }, () => r() * 2 - 1), shape, { backend: be }); t.requiresGrad = true; return t; };
  const q = mk(seed), k = mk(seed + 1), v = mk(seed + 2), g = mk(seed + 3);
  const out = causalAttention(q, k, v, { variant });
  C.backward(out, g);
  return [await out.read(), await q.grad!.read(), await k.grad!.read(), await v.grad!.read()];
});
const f64 = new C.CpuBackend({ precision: 'f64' });
const wg = await createWebGpuBackend();
console.log(wg.description);
let worst = 0;
for (const shape of [[1, 1, 1, 4], [2, 3, 17, 16], [1, 2, 70, 8], [1, 1, 33, 64], [2, 2, 130, 64], [1, 1, 65, 128]]) {
  const ref = await run(f64, shape, 'rows');
  for (const v of ['tiles', 'rows']) {
    const got = await run(wg, shape, v);
    const err = got.map((a, i) => { let m = 0, s = 0; a.forEach((x, j) => { m = Math.max(m, Math.abs(x - ref[i]![j]!)); s = Math.max(s, Math.abs(ref[i]![j]!)); }); return m / (s || 1); });
    worst = Math.max(worst, ...err);
    console.log(v, shape.join(','), 'rel err out dq dk dv', err.map((e) => e.toExponential(2)).join(' '));
  }
}
console.log(worst < 2e-5 ? 'PASS' : 'FAIL', 'worst', worst.toExponential(2));
