// f16 on WebGPU (shader-f16, `enable f16;`, array<f16> storage) against the CPU reference: casts and every
// elementwise op of the reference's f16 test, at 0, 1 and odd numbers of elements, bit for bit where f16
// arithmetic is correctly rounded and within WGSL's f16 accuracy elsewhere (exp, log, tanh, sqrt and
// division are not correctly rounded; zero's sign is compared as a value); the device's f16 and subgroup-matrix report; and the refusal,
// naming the op, the dtype and the backend, on a device created without shader-f16.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as C from '@cce/core';
import { createWebGpuBackend, dawnOptionsFor } from '@cce/backend-webgpu';
import { F16_CASES, edgeValues, f16Inputs, f16Ulp } from '../core/f16-oracle.js';
import { requireBackend, webgpuAvailable } from './support.js';

const same = (a: number, b: number) => Object.is(a, b) || a === b || (Number.isNaN(a) && Number.isNaN(b));

/** got against want, element by element, within the error `allowed(i)` (0: the same value; Infinity: any value, NaN included, where WGSL bounds nothing). */
function compare(what: string, got: ArrayLike<number>, want: ArrayLike<number>, allowed: (i: number) => number, inputs: ArrayLike<number>[]): void {
  assert.is(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    const bound = allowed(i);
    if (same(g, w) || bound === Infinity || Math.abs(g - w) <= bound) continue;
    throw new Error(`${what}: element ${i} is ${g} on webgpu, ${w} on the reference (${Math.abs(g - w) / f16Ulp(w)} ulps; inputs ${inputs.map((x) => x[i]).join(', ')})`);
  }
}
const exactly = () => 0;

if (await webgpuAvailable('f16')) {
  const s = suite('f16 on webgpu');
  const ref = new C.CpuBackend();
  let gpu: Awaited<ReturnType<typeof requireBackend>>;
  s.before(async () => {
    gpu = await requireBackend();
  });

  s('the device reports shader-f16 and its subgroup-matrix configurations; Dawn got the toggles', () => {
    assert.ok(gpu.report.features.includes('shader-f16'), `the adapter should offer shader-f16 (lavapipe does): ${gpu.report.adapterFeatures}`);
    assert.ok(gpu.capabilities.features.has('f16'));
    assert.ok(gpu.report.dawnOptions.includes('enable-dawn-features=vulkan_enable_f16_on_nvidia,allow_unsafe_apis'), String(gpu.report.dawnOptions));
    assert.equal(gpu.report.subgroupMatrixConfigs.length > 0, gpu.capabilities.features.has('subgroupMatrix'));
    assert.ok(gpu.description.includes(', f16'), gpu.description);
    assert.equal(dawnOptionsFor({ disableFeatures: ['shader-f16', 'subgroups'] }), ['disable-dawn-features=timestamp_quantization']);
    // A caller's toggle lists join ours (Dawn keeps one value per option name).
    assert.equal(dawnOptionsFor({ dawnOptions: ['enable-dawn-features=disable_robustness,allow_unsafe_apis', 'backend=vulkan'] }),
      ['disable-dawn-features=timestamp_quantization', 'enable-dawn-features=vulkan_enable_f16_on_nvidia,allow_unsafe_apis,disable_robustness', 'backend=vulkan']);
  });

  s('casts f32 -> f16 -> f32 and f16 -> i32 match the reference bit for bit (overflow to inf, subnormals, NaN)', async () => {
    const xs = edgeValues();
    for (const be of [ref, gpu]) assert.ok(be.capabilities.features.has('f16'));
    const run = async (be: C.Backend) => {
      const f = C.tensor(xs, [xs.length], { backend: be });
      const h = C.cast(f, 'f16');
      return { h: await h.read(), back: await C.cast(h, 'f32').read(), ints: await C.cast(h, 'i32').read(), up: await C.tensor(xs, [xs.length], { dtype: 'f16', backend: be }).read() };
    };
    const want = await run(ref);
    const got = await run(gpu);
    compare('cast f32 -> f16', got.h, want.h, exactly, [xs]);
    compare('cast f16 -> f32', got.back, want.back, exactly, [xs]);
    compare('cast f16 -> i32', got.ints, want.ints, exactly, [xs]);
    compare('f16 write and read', got.up, want.up, exactly, [xs]);
  });

  for (const n of [0, 1, 37, 1001]) {
    s(`every f16 elementwise op on ${n} elements matches the reference`, async () => {
      const a = f16Inputs(n, 5);
      const b = f16Inputs(n, 6);
      const on = (be: C.Backend) => [C.tensor(a, [n], { dtype: 'f16', backend: be }), C.tensor(b, [n], { dtype: 'f16', backend: be })] as const;
      const [ra, rb] = on(ref);
      const [ga, gb] = on(gpu);
      // Every case is compared before the test fails, so that one run shows all that differ.
      const problems: string[] = [];
      for (const c of F16_CASES) {
        const want = await c.run(ra, rb).read();
        const got = c.run(ga, gb);
        assert.is(got.dtype, 'f16');
        const allowed = (i: number) => (c.gpuError ? c.gpuError(a[i]!, b[i]!, want[i]!) : 0);
        try {
          compare(`${c.name} (f16)`, await got.read(), want, allowed, c.arity === 2 ? [a, b] : [a]);
        } catch (e) {
          problems.push((e as Error).message);
        }
      }
      if (problems.length) throw new Error(problems.join('\n'));
      compare('where(a > b)', await C.where(C.compare(ga, 'gt', gb), ga, gb).read(), await C.where(C.compare(ra, 'gt', rb), ra, rb).read(), exactly, [a, b]);
    });
  }

  s('f16 shape ops (permute, slice, pad, concat) match the reference bit for bit', async () => {
    const xs = f16Inputs(3 * 7 * 5, 8);
    const run = async (be: C.Backend) => {
      const x = C.tensor(xs, [3, 7, 5], { dtype: 'f16', backend: be });
      return Promise.all([C.permute(x, [2, 0, 1]), C.slice(x, [1, 2, 0], [3, 7, 3]), C.pad(x, [0, 1, 2], [3, 9, 8]), C.concat([x, x], 2)].map((t) => t.read()));
    };
    const [want, got] = [await run(ref), await run(gpu)];
    ['permute', 'slice', 'pad', 'concat'].forEach((name, j) => compare(name, got[j]!, want[j]!, exactly, [xs]));
  });

  s('f16 matmul (f32 accumulation, f32 or f16 result) matches the reference at odd shapes in every layout, 0-sized included', async () => {
    // Multiples of 2^-8 with K < 128: every partial sum is exact in f32, so any summation order agrees.
    const rng = C.mulberry32(9);
    const data = (n: number) => Array.from({ length: n }, () => Math.round((rng() * 2 - 1) * 256) / 256);
    for (const [M, N, K, transA, transB, result, batch] of [[37, 45, 29, false, false, 'f32', 1], [33, 17, 20, true, true, 'f16', 2], [64, 48, 96, false, true, 'f32', 1],
      [1, 1, 1, true, false, 'f16', 1], [0, 5, 3, false, false, 'f32', 1], [4, 3, 0, false, false, 'f16', 1]] as const) {
      const a = data(batch * M * K);
      const b = data(batch * K * N);
      const lead = batch > 1 ? [batch] : [];
      const run = async (be: C.Backend) => C.matmul(C.tensor(a, [...lead, ...(transA ? [K, M] : [M, K])], { dtype: 'f16', backend: be }),
        C.tensor(b, [...lead, ...(transB ? [N, K] : [K, N])], { dtype: 'f16', backend: be }), { transA, transB, result }).read();
      compare(`matmul ${M}x${N}x${K} ${transA ? 'T' : 'N'}${transB ? 'T' : 'N'} -> ${result}`, await run(gpu), await run(ref), exactly, [a]);
    }
  });

  s('without shader-f16 an f16 tensor is refused naming the op, the dtype and the backend', async () => {
    const plain = await createWebGpuBackend({ disableFeatures: ['shader-f16'] });
    try {
      assert.not.ok(plain.capabilities.features.has('f16'));
      assert.not.ok(plain.report.dawnOptions.join().includes('vulkan_enable_f16_on_nvidia'));
      assert.throws(() => C.tensor([1, 2], [2], { dtype: 'f16', backend: plain }), /^tensor: dtype f16 is not supported by backend 'webgpu'/);
      const x = C.tensor([1, 2], [2], { backend: plain });
      assert.throws(() => C.cast(x, 'f16'), /^cast_f16: dtype f16 is not supported by backend 'webgpu'/);
      const k = C.defineMapKernel('t_f16_copy', { outputType: 'f16' }, (b) => b.input('x', 'f16'), ({ index }, x) => x.at(index));
      assert.throws(() => plain.compile(k), /webgpu: kernel 't_f16_copy' needs 'f16', which this backend lacks \(f16 values: WebGPU feature shader-f16\)/);
    } finally {
      plain.destroy();
    }
  });

  s.run();
}
