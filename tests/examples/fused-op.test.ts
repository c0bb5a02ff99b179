// examples/fused-op: the fused RMSNorm. gradcheck of x and weight on the f64 reference (both variants);
// forward and both gradients on cpu f32, gpujs:webasm and webgpu (map and workgroup variants) against
// the same math composed from core ops in f64, at odd shapes (one row, D = 1, D past the workgroup);
// needsGrad; a NaN in one row reaching only that row (and every dweight column), as in the composed
// path; bad inputs refused naming the op; and the tiny training script's loss falling.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as C from '@cce/core';
import type { Backend } from '@cce/core';
import { createGpujsBackend } from '@cce/backend-gpujs';
import { rmsNorm, rmsNormComposed, type RmsNormVariant } from '../../examples/fused-op/rmsnorm.js';
import { trainTiny } from '../../examples/fused-op/train-tiny.js';
import { compareArrays } from '../support/conformance.js';
import { requireBackend, webgpuAvailable } from '../webgpu/support.js';

const s = suite('examples: fused-op (RMSNorm)');
const cpu = new C.CpuBackend();
const f64 = new C.CpuBackend({ precision: 'f64' });
const EPS = 1e-5;
const SHAPES = [[1, 1], [5], [4, 1], [1, 7], [3, 5, 7], [2, 33], [3, 300]];

const randomHost = (n: number, seed: number) => {
  const rng = C.mulberry32(seed);
  return Float64Array.from({ length: n }, () => rng() * 4 - 2);
};

interface Case { shape: number[]; x: Float64Array; w: Float64Array; p: Float64Array }
const makeCase = (shape: number[], seed: number): Case => {
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, x: randomHost(n, seed), w: randomHost(shape[shape.length - 1]!, seed + 1), p: randomHost(n, seed + 2) };
};

/** y, dx and dw of sum(y * p), with y from `norm` on `backend`; checks that nothing leaks. */
async function run(backend: Backend, c: Case, norm: (x: C.Tensor, w: C.Tensor) => C.Tensor, grads: [boolean, boolean] = [true, true]) {
  const live = backend.memory().liveBuffers;
  const out = await C.scope(async () => {
    const x = C.tensor(c.x, c.shape, { backend });
    const w = C.tensor(c.w, [c.w.length], { backend });
    [x.requiresGrad, w.requiresGrad] = grads;
    const y = norm(x, w);
    C.backward(C.sum(C.mul(y, C.tensor(c.p, c.shape, { backend }))));
    return { y: await y.read(), dx: x.grad ? await x.grad.read() : null, dw: w.grad ? await w.grad.read() : null };
  });
  assert.is(backend.memory().liveBuffers, live, `buffers leaked on ${backend.name}`);
  return out;
}

const composed = (x: C.Tensor, w: C.Tensor) => rmsNormComposed(x, w, EPS);
const fused = (variant: RmsNormVariant) => (x: C.Tensor, w: C.Tensor) => rmsNorm(x, w, { eps: EPS, variant });

/** The fused op on `backend` against the composed path in f64, at every shape. */
async function checkBackend(backend: Backend, variant: RmsNormVariant) {
  for (const [k, shape] of SHAPES.entries()) {
    const c = makeCase(shape, 100 + k);
    const want = await run(f64, c, composed);
    const got = await run(backend, c, fused(variant));
    const what = `${backend.name} ${variant} [${shape}]`;
    compareArrays(`y on ${what}`, got.y, want.y, 1e-5, 1e-6);
    compareArrays(`dx on ${what}`, got.dx!, want.dx!, 1e-4, 1e-6);
    compareArrays(`dweight on ${what}`, got.dw!, want.dw!, 1e-4, 1e-6);
  }
}

/** NaN at x[1, 2] of a [4, 6] input: y and dx NaN in row 1 only, dweight NaN everywhere, as composed. */
async function checkNaN(backend: Backend, variant: RmsNormVariant) {
  const c = makeCase([4, 6], 7);
  c.x[1 * 6 + 2] = NaN;
  const want = await run(f64, c, composed);
  const got = await run(backend, c, fused(variant));
  const classes = (v: ArrayLike<number>) => Array.from(v, (e) => (Number.isNaN(e) ? 'NaN' : 'finite'));
  const rowNaN = Array.from({ length: 24 }, (_, i) => (Math.floor(i / 6) === 1 ? 'NaN' : 'finite'));
  for (const [name, g, w] of [['y', got.y, want.y], ['dx', got.dx!, want.dx!], ['dweight', got.dw!, want.dw!]] as const) {
    assert.equal(classes(w), name === 'dweight' ? Array(6).fill('NaN') : rowNaN, `composed ${name}`);
    assert.equal(classes(g), classes(w), `${name} on ${backend.name} ${variant}`);
    if (name !== 'dweight') {
      const finite = (v: ArrayLike<number>) => Array.from(v).filter((e) => !Number.isNaN(e));
      compareArrays(`${name} (other rows) on ${backend.name}`, finite(g), finite(w), 1e-4, 1e-6);
    }
  }
}

s('gradcheck of x and weight on the f64 reference, both variants', async () => {
  for (const variant of ['map', 'workgroup'] as const) {
    for (const [k, shape] of [[3, 5, 7], [1, 1], [2, 33]].entries()) {
      const c = makeCase(shape, 10 + k);
      const x = C.tensor(c.x, shape, { backend: f64 });
      const w = C.tensor(c.w, [c.w.length], { backend: f64 });
      const r = await C.gradcheck((xv, wv) => rmsNorm(xv, wv, { eps: EPS, variant }), [x, w]);
      assert.is(r.checked, c.x.length + c.w.length);
      assert.ok(r.ok, `${variant} [${shape}]: ${C.formatGradcheck(r)}`);
      x.dispose();
      w.dispose();
    }
  }
});

s('cpu f32: forward and gradients match the composed f64 path (map and workgroup variants)', async () => {
  await checkBackend(cpu, 'map');
  await checkBackend(cpu, 'workgroup');
});

s('needsGrad: only the input that needs a gradient gets one', async () => {
  const c = makeCase([3, 5], 3);
  const want = await run(f64, c, composed);
  const onlyW = await run(cpu, c, fused('map'), [false, true]);
  assert.is(onlyW.dx, null);
  compareArrays('dweight alone', onlyW.dw!, want.dw!, 1e-4, 1e-6);
  const onlyX = await run(cpu, c, fused('map'), [true, false]);
  assert.is(onlyX.dw, null);
  compareArrays('dx alone', onlyX.dx!, want.dx!, 1e-4, 1e-6);
});

s('a NaN in one row of x reaches only that row of y and dx, and every dweight column (cpu)', async () => {
  await checkNaN(cpu, 'map');
  await checkNaN(cpu, 'workgroup');
});

s('bad inputs are refused naming the op and the shapes', () => {
  C.scopeSync(() => {
    const x = C.randn([2, 3], { backend: cpu });
    const w = C.ones([3], { backend: cpu });
    const throws = (fn: () => unknown, re: RegExp) => assert.throws(fn, (e: Error) => re.test(e.message), String(re));
    throws(() => rmsNorm(C.tensor([1], [], { backend: cpu }), w), /^rmsNorm: x must have rank >= 1.*shape \[\]/);
    throws(() => rmsNorm(x, C.ones([4], { backend: cpu })), /^rmsNorm: weight must have shape \[3\].*x \[2, 3\].*got \[4\]/);
    throws(() => rmsNorm(x, C.ones([1, 3], { backend: cpu })), /^rmsNorm: weight must have shape \[3\].*got \[1, 3\]/);
    throws(() => rmsNorm(C.tensor([1, 2, 3], [1, 3], { dtype: 'i32', backend: cpu }), w), /^rmsNorm: x and weight must be f32, got x i32 \[1, 3\]/);
    throws(() => rmsNorm(x, C.ones([3], { backend: f64 })), /^rmsNorm: x lives on backend 'cpu', weight on 'cpu:f64'/);
    for (const eps of [0, -1, NaN, Infinity]) throws(() => rmsNorm(x, w, { eps }), /^rmsNorm: eps must be a finite number > 0/);
    throws(() => rmsNorm(x, w, { variant: 'tiled' as RmsNormVariant }), /^rmsNorm: unknown variant 'tiled'/);
  });
});

s('train-tiny: the loss falls over 30 AdamW steps (cpu)', async () => {
  const losses = await trainTiny({ backend: cpu, steps: 30 });
  assert.ok(losses.every(Number.isFinite), `${losses}`);
  assert.ok(losses[losses.length - 1]! < 0.1 * losses[0]!, `loss did not fall: ${losses.map((v) => v.toFixed(3))}`);
});

s('gpujs:webasm: forward, gradients and NaN rows match; the workgroup variant is refused', async () => {
  const backend = await createGpujsBackend('webasm');
  try {
    await checkBackend(backend, 'auto');
    await checkNaN(backend, 'auto');
    C.scopeSync(() => {
      const x = C.randn([2, 3], { backend });
      assert.throws(() => rmsNorm(x, C.ones([3], { backend }), { variant: 'workgroup' }), /rmsNorm: the workgroup variant needs workgroup memory; backend 'gpujs:webasm'/);
    });
  } finally {
    backend.destroy();
  }
});

s.run();

if (await webgpuAvailable('examples: fused-op')) {
  const w = suite('examples: fused-op (RMSNorm) on webgpu');
  w('forward and gradients match the composed f64 path, map and workgroup variants', async () => {
    const backend = await requireBackend();
    await checkBackend(backend, 'map');
    await checkBackend(backend, 'workgroup');
    await checkBackend(backend, 'auto');
  });
  w('a NaN in one row stays in that row, both variants', async () => {
    const backend = await requireBackend();
    await checkNaN(backend, 'map');
    await checkNaN(backend, 'workgroup');
  });
  w('train-tiny: the loss falls', async () => {
    const losses = await trainTiny({ backend: await requireBackend(), steps: 30 });
    assert.ok(losses[losses.length - 1]! < 0.1 * losses[0]!, `loss did not fall: ${losses.map((v) => v.toFixed(3))}`);
  });
  w.run();
}
