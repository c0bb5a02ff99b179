// The reference interpreter's semantics: kernels that give a wrong answer unless workgroup memory,
// barriers and subgroup operations behave as on a GPU, integer wrapping, bounds checks and divergence.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as C from '@cce/core';
import { defineKernel, f32, i32 } from '@cce/core';

const s = suite('interpreter');

function run(backend: C.CpuBackend, kernel: C.Kernel, inputs: Record<string, Float32Array | Int32Array>, out: { name: string; length: number; dtype: C.DType }, uniforms: Record<string, number>, grid: C.Grid) {
  const buffers: Record<string, C.DeviceBuffer> = {};
  for (const [name, data] of Object.entries(inputs)) {
    buffers[name] = backend.allocate(data.length, data instanceof Int32Array ? 'i32' : 'f32');
    backend.write(buffers[name]!, data);
  }
  buffers[out.name] = backend.allocate(out.length, out.dtype);
  backend.dispatch(backend.compile(kernel), { buffers, uniforms }, grid);
  return backend.read(buffers[out.name]!);
}

const W = 16;
// Reverses each workgroup's slice through workgroup memory: wrong without the barrier's lockstep.
const reverse = defineKernel('reverse', { workgroupSize: W }, (b) => {
  const x = b.input('x', 'f32');
  const out = b.output('out', 'f32');
  const tile = b.workgroupArray('tile', 'f32', W);
  const li = b.let('li', b.localIndex());
  const g = b.let('g', b.globalId(0));
  tile.store(li, x.at(g));
  b.barrier();
  out.store(g, tile.at(i32(W - 1).sub(li)));
});

// A tree reduction in workgroup memory with a barrier inside a loop.
const treeSum = defineKernel('tree_sum', { workgroupSize: W }, (b) => {
  const x = b.input('x', 'f32');
  const out = b.output('out', 'f32');
  const tile = b.workgroupArray('tile', 'f32', W);
  const li = b.let('li', b.localIndex());
  tile.store(li, x.at(b.globalId(0)));
  b.barrier();
  for (let stride = W / 2; stride >= 1; stride /= 2) {
    b.if(li.lt(stride), () => tile.store(li, tile.at(li).add(tile.at(li.add(stride)))));
    b.barrier();
  }
  b.if(li.eq(0), () => out.store(b.workgroupId(0), tile.at(0)));
});

s('barriers order workgroup memory (reverse)', async () => {
  const cpu = new C.CpuBackend();
  const x = Float32Array.from({ length: 3 * W }, (_, i) => i * 1.5 + 0.25);
  const got = await run(cpu, reverse, { x }, { name: 'out', length: 3 * W, dtype: 'f32' }, {}, [3, 1, 1]);
  for (let g = 0; g < 3; g++) for (let l = 0; l < W; l++) assert.is(got[g * W + l], x[g * W + W - 1 - l]);
});

s('barriers inside loops (tree reduction)', async () => {
  const cpu = new C.CpuBackend({ precision: 'f64' });
  const rng = C.mulberry32(3);
  const x = Float32Array.from({ length: 5 * W }, () => rng() - 0.5);
  const got = await run(cpu, treeSum, { x }, { name: 'out', length: 5, dtype: 'f32' }, {}, [5, 1, 1]);
  for (let g = 0; g < 5; g++) {
    const want = x.slice(g * W, (g + 1) * W).reduce((a, v) => a + v, 0);
    assert.ok(Math.abs(got[g]! - want) < 1e-12, `group ${g}: ${got[g]} vs ${want}`);
  }
});

s('a barrier after an early return is reported', async () => {
  const bad = defineKernel('bad_barrier', { workgroupSize: 8 }, (b) => {
    const out = b.output('out', 'f32');
    const li = b.let('li', b.localIndex());
    b.if(li.ge(4), () => b.return());
    b.barrier();
    out.store(li, f32(1));
  });
  const cpu = new C.CpuBackend();
  try {
    await run(cpu, bad, {}, { name: 'out', length: 8, dtype: 'f32' }, {}, [1, 1, 1]);
    assert.unreachable('divergent barrier was accepted');
  } catch (e) {
    assert.match((e as Error).message, /barrier reached by 4 of 8 invocations/);
  }
});

// Each invocation gets its subgroup's sum, its lane-1 value, and its neighbour's value (lane ^ 1).
const subgroupOps = defineKernel('subgroup_ops', { workgroupSize: 64 }, (b) => {
  const x = b.input('x', 'f32');
  const sums = b.output('sums', 'f32');
  const bcast = b.output('bcast', 'f32');
  const shuf = b.output('shuf', 'f32');
  const maxes = b.output('maxes', 'f32');
  const g = b.let('g', b.globalId(0));
  const v = b.let('v', x.at(g));
  sums.store(g, b.subgroupAdd(v));
  bcast.store(g, b.subgroupBroadcast(v, 1));
  shuf.store(g, b.subgroupShuffle(v, b.subgroupInvocationId().bitXor(1)));
  maxes.store(g, b.subgroupMax(v));
});

for (const size of [4, 8, 32]) {
  s(`subgroup operations at subgroup size ${size}`, async () => {
    const cpu = new C.CpuBackend({ subgroupSize: size, precision: 'f64' });
    const rng = C.mulberry32(size);
    const x = Float32Array.from({ length: 128 }, () => Math.round((rng() - 0.5) * 100));
    const bufs: Record<string, C.DeviceBuffer> = { x: cpu.allocate(128, 'f32') };
    cpu.write(bufs.x!, x);
    for (const n of ['sums', 'bcast', 'shuf', 'maxes']) bufs[n] = cpu.allocate(128, 'f32');
    cpu.dispatch(cpu.compile(subgroupOps), { buffers: bufs }, [2, 1, 1]);
    const [sums, bcast, shuf, maxes] = await Promise.all(['sums', 'bcast', 'shuf', 'maxes'].map((n) => cpu.read(bufs[n]!)));
    for (let i = 0; i < 128; i++) {
      const base = i - (i % size);
      const group = Array.from(x.slice(base, base + size));
      assert.is(sums![i], group.reduce((a, v) => a + v, 0), `sum at ${i}`);
      assert.is(bcast![i], x[base + 1], `broadcast at ${i}`);
      assert.is(shuf![i], x[base + ((i % size) ^ 1)], `shuffle at ${i}`);
      assert.is(maxes![i], Math.max(...group), `max at ${i}`);
    }
  });
}

s('subgroup size changes the answer (the test can tell sizes apart)', async () => {
  const x = Float32Array.from({ length: 64 }, (_, i) => i);
  const sums = async (size: number) => {
    const cpu = new C.CpuBackend({ subgroupSize: size });
    const bufs: Record<string, C.DeviceBuffer> = { x: cpu.allocate(64, 'f32') };
    cpu.write(bufs.x!, x);
    for (const n of ['sums', 'bcast', 'shuf', 'maxes']) bufs[n] = cpu.allocate(64, 'f32');
    cpu.dispatch(cpu.compile(subgroupOps), { buffers: bufs }, [1, 1, 1]);
    return cpu.read(bufs.sums!);
  };
  assert.is.not((await sums(4))[0], (await sums(8))[0]);
});

s('i32 arithmetic wraps and integer division follows WGSL', async () => {
  const k = defineKernel('ints', { workgroupSize: 1 }, (b) => {
    const out = b.output('out', 'i32');
    const big = b.uniform('big', 'i32');
    const zero = b.uniform('zero', 'i32');
    out.store(0, big.add(1));
    out.store(1, big.mul(2));
    out.store(2, i32(7).div(zero));
    out.store(3, i32(-7).div(2));
    out.store(4, i32(-7).mod(2));
    out.store(5, f32(-2.75).toI32());
  });
  const cpu = new C.CpuBackend();
  const got = await run(cpu, k, {}, { name: 'out', length: 6, dtype: 'i32' }, { big: 2 ** 31 - 1, zero: 0 }, [1, 1, 1]);
  assert.equal(Array.from(got), [-(2 ** 31), -2, 7, -3, -1, -2]);
});

s('f32 mode rounds every operation; f64 mode does not', async () => {
  const k = defineKernel('round', { workgroupSize: 1 }, (b) => {
    const out = b.output('out', 'f32');
    const a = b.uniform('a', 'f32');
    out.store(0, a.add(1e-9).sub(a));
  });
  const f32run = await run(new C.CpuBackend({ precision: 'f32' }), k, {}, { name: 'out', length: 1, dtype: 'f32' }, { a: 1 }, [1, 1, 1]);
  const f64run = await run(new C.CpuBackend({ precision: 'f64' }), k, {}, { name: 'out', length: 1, dtype: 'f32' }, { a: 1 }, [1, 1, 1]);
  assert.is(f32run[0], 0);
  assert.ok(Math.abs(f64run[0]! - 1e-9) < 1e-15, `f64 gave ${f64run[0]}`);
});

s('vector loads, arithmetic and component access', async () => {
  const k = defineKernel('vec4', { workgroupSize: 4 }, (b) => {
    const x = b.input('x', 'vec4<f32>');
    const out = b.output('out', 'f32');
    const i = b.let('i', b.globalId(0));
    const v = b.let('v', x.at(i).mul(x.at(i)));
    out.store(i, v.x.add(v.y).add(v.z).add(v.w));
  });
  const x = Float32Array.from({ length: 16 }, (_, i) => i + 1);
  const got = await run(new C.CpuBackend(), k, { x }, { name: 'out', length: 4, dtype: 'f32' }, {}, [1, 1, 1]);
  for (let i = 0; i < 4; i++) {
    let want = 0;
    for (let j = 0; j < 4; j++) want += x[4 * i + j]! ** 2;
    assert.is(got[i], want);
  }
});

s('out-of-bounds reads and writes throw, naming the kernel and buffer', async () => {
  const k = defineKernel('oob', { workgroupSize: 1 }, (b) => {
    const x = b.input('x', 'f32');
    const out = b.output('out', 'f32');
    out.store(0, x.at(5));
  });
  try {
    await run(new C.CpuBackend(), k, { x: new Float32Array(3) }, { name: 'out', length: 1, dtype: 'f32' }, {}, [1, 1, 1]);
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, /kernel 'oob': read of 'x'\[5\] out of bounds \(length 3\)/);
  }
});

s.run();
