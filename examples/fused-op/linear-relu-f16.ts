// A user's tensor-core kernel: y = relu(x Wᵀ + bias) for f16 x [M, K] and W [N, K] (a linear layer's
// layout), f32 bias [N] and f32 y [M, N], in one kernel on core's fragment engine. The engine
// accumulates x Wᵀ in f32 subgroup-matrix fragments; its per-element epilogue adds the bias and applies
// the relu before the only store, so neither x Wᵀ nor x Wᵀ + bias is ever written to memory.
// Forward only (inference): a training step would also need the backward's products.
import * as C from '@cce/core';
import type { FragmentTile, Kernel, Tensor } from '@cce/core';

/** 64 x 64 outputs per workgroup in 2 x 2 subgroups, k slices of 32 staged once. */
const TILE = { BM: 64, BN: 64, BK: 32, SM: 2, SN: 2, stages: 1 } as const;

const linearReluKernel = (t: FragmentTile, vec4: boolean): Kernel =>
  C.memoKernel(`example:linear_relu_f16:${C.fragmentKey(t)}:${vec4}`, () =>
    C.defineKernel(`linear_relu_f16_${C.fragmentKey(t)}${vec4 ? '_v4' : ''}`, { workgroupSize: C.fragmentThreads(t) }, (b) => {
      const x = b.input('x', vec4 ? 'vec4<f16>' : 'f16');
      const w = b.input('w', vec4 ? 'vec4<f16>' : 'f16');
      const bias = b.input('bias', 'f32');
      const out = b.output('out', 'f32');
      const M = b.uniform('M', 'i32');
      const N = b.uniform('N', 'i32');
      const K = b.uniform('K', 'i32');
      const row0 = b.let('row0', b.workgroupId(1).mul(t.BM));
      const col0 = b.let('col0', b.workgroupId(0).mul(t.BN));
      // Both operands are stored with k fastest ([rows, K]): x's rows are y's rows, W's rows its columns.
      const eng = C.createFragmentProduct(b, t,
        C.denseF16Operand(b, x, C.i32(0), M, K, false, vec4),
        C.denseF16Operand(b, w, C.i32(0), N, K, false, vec4));
      eng.product(row0, col0, K);
      eng.eachElement((r, c, v) => {
        const m = b.let('m', row0.add(r));
        const n = b.let('n', col0.add(c));
        b.if(m.lt(M).and(n.lt(N)), () => {
          const z = b.let('z', v.add(bias.at(n)));
          // z < 0 ? 0 : z, rather than max(z, 0), so that a NaN stays NaN on every backend.
          out.store(m.mul(N).add(n), z.lt(0).select(C.f32(0), z));
        });
      });
    }));

function fail(message: string): never {
  throw new Error(`linearReluF16: ${message}`);
}

/** relu(x Wᵀ + bias): x f16 [M, K], w f16 [N, K], bias f32 [N] -> f32 [M, N], on tensor cores. */
export function linearReluF16(x: Tensor, w: Tensor, bias: Tensor): Tensor {
  if (x.rank !== 2 || w.rank !== 2 || bias.rank !== 1) fail(`expected x [M, K], w [N, K] and bias [N], got [${x.shape}], [${w.shape}], [${bias.shape}]`);
  const [M, K] = x.shape as [number, number];
  const N = w.shape[0]!;
  if (w.shape[1] !== K || bias.shape[0] !== N) fail(`x [${x.shape}], w [${w.shape}] and bias [${bias.shape}] do not agree (w [N, ${K}], bias [N])`);
  if (x.dtype !== 'f16' || w.dtype !== 'f16' || bias.dtype !== 'f32') fail(`expected f16 x and w and an f32 bias, got ${x.dtype}, ${w.dtype}, ${bias.dtype}`);
  const backend = x.backend;
  if (w.backend !== backend || bias.backend !== backend) fail('x, w and bias are on different backends');
  const tile = C.fragmentTileFor(backend, TILE);
  if (!tile) fail(`backend '${backend.name}' has no 16x16x16 f16 -> f32 subgroup matrices (tensor cores)`);
  if (!C.fragmentsFit(backend, tile)) fail(`backend '${backend.name}' cannot run a ${TILE.BM}x${TILE.BN} fragment tile (workgroup memory or invocations)`);
  const out = C.Tensor.empty([M, N], 'f32', backend, 'linearReluF16');
  if (M === 0 || N === 0) return out;
  // vec4 loads where every row starts on a multiple of 4 elements.
  const vec4 = K % 4 === 0;
  const grid: [number, number, number] = [Math.ceil(N / TILE.BN), Math.ceil(M / TILE.BM), 1];
  C.dispatchKernel(backend, linearReluKernel(tile, vec4), { x, w, bias, out }, { M, N, K }, grid);
  return out;
}
