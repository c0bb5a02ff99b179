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
const cpu = new C.CpuBackend();
const wg = await createWebGpuBackend();
for (const shape of [[1, 1, 1, 4], [2, 3, 17, 16], [1, 2, 70, 8], [1, 1, 33, 64]]) {
  const ref = await run(cpu, shape, 'rows');
  for (const [be, v] of [[cpu, 'tiles'], [wg, 'tiles'], [wg, 'rows']] as const) {
    const got = await run(be, shape, v);
    const err = got.map((a, i) => Math.max(...Array.from(a, (x, j) => Math.abs(x - ref[i]![j]!))));
    console.log(be.name, v, shape.join(','), err.map((e) => e.toExponential(2)).join(' '));
  }
}
