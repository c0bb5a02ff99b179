// A start-up check: one small map kernel that exercises what the lowering relies on (guarded gather
// reads of i32 ids, integer division and remainder of negative values, a loop with a uniform bound,
// exp), run through write / dispatch / read and compared with the CPU reference interpreter. A mode
// that computes it wrongly is refused instead of returning wrong numbers later.
import { type Backend, CpuBackend, type Kernel, defineMapKernel, f32, grid1d, i32 } from '@cce/core';

let probeKernel: Kernel | null = null;

function kernel(): Kernel {
  probeKernel ??= defineMapKernel('gpujs_self_test', { outputType: 'f32' },
    (b) => ({ x: b.input('x', 'f32'), ids: b.input('ids', 'i32'), K: b.uniform('K', 'i32') }),
    ({ b, index }, { x, ids, K }) => {
      const id = b.let('id', ids.at(index));
      const v = b.var('v', f32(-1));
      b.if(id.ge(0).and(id.lt(K)), () => v.set(x.at(id)));
      const acc = b.var('acc', f32(0));
      b.for('k', 0, K, (k) => acc.set(acc.add(x.at(k).mul(k.toF32()))));
      const q = b.let('q', id.sub(7).div(3));
      const r = b.let('r', id.sub(7).mod(i32(3)));
      return v.add(acc.mul(0.5)).add(q.toF32().mul(100)).add(r.toF32().mul(1000)).add(v.exp());
    });
  return probeKernel;
}

async function run(backend: Backend, x: Float32Array, ids: Int32Array, K: number): Promise<ArrayLike<number>> {
  const k = kernel();
  const bx = backend.allocate(x.length, 'f32');
  const bi = backend.allocate(ids.length, 'i32');
  const bo = backend.allocate(ids.length, 'f32');
  try {
    backend.write(bx, x);
    backend.write(bi, ids);
    const grid = grid1d(ids.length, k.workgroupSize[0], backend.capabilities.limits.maxWorkgroupsPerDimension);
    backend.dispatch(backend.compile(k), { buffers: { x: bx, ids: bi, out: bo }, uniforms: { K, count: ids.length } }, grid);
    return await backend.read(bo);
  } finally {
    backend.free(bx);
    backend.free(bi);
    backend.free(bo);
  }
}

export async function selfTest(backend: Backend): Promise<void> {
  const K = 5;
  const x = Float32Array.from({ length: K }, (_, i) => 0.25 * i - 0.5);
  const ids = Int32Array.from([0, 4, -100, 5, 3, 1, 2, 1000000, -1, 16]);
  const got = await run(backend, x, ids, K);
  const want = await run(new CpuBackend({ precision: 'f32' }), x, ids, K);
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    if (!(Math.abs(got[i]! - w) <= 1e-4 * Math.max(1, Math.abs(w)))) {
      throw new Error(`element ${i} is ${got[i]}, the reference gives ${w}`);
    }
  }
}
