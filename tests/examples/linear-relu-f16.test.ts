// examples/fused-op/linear-relu-f16.ts: the tensor-core kernel on the CPU reference (its subgroup
// matrices; subgroups of 8 and 32) against relu(x Wᵀ + bias) in float64 at odd shapes (no dimension a
// multiple of the tile, K not a multiple of 4 and one that is, one row, zero rows), NaN and -inf
// propagating as in the float64 math, and bad inputs refused naming the op and the numbers. On WebGPU
// (lavapipe in CI, which has no subgroup matrices) the refusal; with subgroup matrices, the same check.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as C from '@cce/core';
import type { Backend } from '@cce/core';
import { linearReluF16 } from '../../examples/fused-op/linear-relu-f16.js';
import { requireBackend } from '../webgpu/support.js';

const s = suite('examples: tensor-core linear + relu');

/** Values on a 1/64 grid in [-2, 2]: exact in f16, products and sums exact in f32 for these K. */
const gridValues = (n: number, seed: number) => {
  const rng = C.mulberry32(seed);
  return Array.from({ length: n }, () => Math.round((rng() * 4 - 2) * 64) / 64);
};

function expected(x: number[], w: number[], bias: number[], M: number, N: number, K: number): Float64Array {
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let z = bias[n]!;
      for (let k = 0; k < K; k++) z += x[m * K + k]! * w[n * K + k]!;
      y[m * N + n] = z < 0 ? 0 : z;
    }
  }
  return y;
}

async function check(be: Backend, M: number, N: number, K: number, seed: number, edit?: (x: number[], w: number[], bias: number[]) => void) {
  const x = gridValues(M * K, seed);
  const w = gridValues(N * K, seed + 1);
  const bias = gridValues(N, seed + 2);
  edit?.(x, w, bias);
  const want = expected(x, w, bias, M, N, K);
  const y = linearReluF16(C.tensor(x, [M, K], { dtype: 'f16', backend: be }), C.tensor(w, [N, K], { dtype: 'f16', backend: be }), C.tensor(bias, [N], { backend: be }));
  assert.equal(y.shape, [M, N]);
  const got = await y.read();
  for (let i = 0; i < want.length; i++) {
    const same = got[i] === want[i] || (Number.isNaN(got[i]) && Number.isNaN(want[i]!));
    if (!same) assert.unreachable(`${M}x${K} @ (${N}x${K})ᵀ on ${be.name}: element ${i} (row ${Math.floor(i / N)}, column ${i % N}) is ${got[i]}, expected ${want[i]}`);
  }
}

for (const subgroupSize of [8, 32]) {
  s(`matches relu(x Wᵀ + bias) at odd shapes, subgroups of ${subgroupSize}`, async () => {
    const be = new C.CpuBackend({ subgroupSize });
    await check(be, 70, 67, 37, 1); // two blocks each way, scalar loads
    await check(be, 5, 3, 40, 2); // vec4 loads, one partial block
    await check(be, 1, 1, 1, 3);
    await check(be, 0, 9, 4, 4);
  });
}

s('a NaN in x reaches its row, an infinite bias its column, as in the float64 math', async () => {
  await check(new C.CpuBackend({ subgroupSize: 8 }), 9, 11, 6, 5, (x, _w, bias) => {
    x[2 * 6 + 3] = NaN; // row 2
    bias[4] = -Infinity; // column 4: relu(-inf) = 0
    bias[7] = Infinity;
  });
});

s('bad inputs are refused naming the op and the numbers', () => {
  const be = new C.CpuBackend({ subgroupSize: 8 });
  const f16 = (shape: number[]) => C.zeros(shape, { dtype: 'f16', backend: be });
  const f32 = (shape: number[]) => C.zeros(shape, { backend: be });
  assert.throws(() => linearReluF16(f16([3, 4]), f16([5, 6]), f32([5])), /linearReluF16: x \[3,4\], w \[5,6\] and bias \[5\] do not agree/);
  assert.throws(() => linearReluF16(f16([3, 4]), f16([5, 4]), f32([4])), /do not agree/);
  assert.throws(() => linearReluF16(f32([3, 4]), f16([5, 4]), f32([5])), /linearReluF16: expected f16 x and w and an f32 bias, got f32, f16, f32/);
  assert.throws(() => linearReluF16(f16([3, 4, 1]), f16([5, 4]), f32([5])), /linearReluF16: expected x \[M, K\]/);
  const plain = new C.CpuBackend({ subgroupMatrixConfigs: [] });
  assert.throws(() => linearReluF16(C.zeros([3, 4], { dtype: 'f16', backend: plain }), C.zeros([5, 4], { dtype: 'f16', backend: plain }), C.zeros([5], { backend: plain })),
    /linearReluF16: backend 'cpu' has no 16x16x16 f16 -> f32 subgroup matrices/);
});

s('on webgpu: refused without subgroup matrices, checked with them', async () => {
  const gpu = await requireBackend();
  if (!gpu.capabilities.subgroupMatrixConfigs?.length) {
    assert.throws(() => linearReluF16(C.zeros([3, 4], { dtype: 'f16', backend: gpu }), C.zeros([5, 4], { dtype: 'f16', backend: gpu }), C.zeros([5], { backend: gpu })),
      /linearReluF16: backend 'webgpu' has no 16x16x16 f16 -> f32 subgroup matrices/);
    return;
  }
  await check(gpu, 70, 67, 37, 1);
  await check(gpu, 130, 129, 64, 6);
});

s.run();
