// Refusals: sizes past gpu.js's exact-integer range (with the numbers), kernels that are not map kernels
// or need what gpu.js lacks, modes that are not available, names that are not modes.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as C from '@cce/core';
import { defineKernel, defineMapKernel, f32 } from '@cce/core';
import { EXACT_INT, type GpujsBackend, createGpujsBackend } from '@cce/backend-gpujs';

const s = suite('gpujs errors');
let be: GpujsBackend;
s.before(async () => {
  be = await createGpujsBackend('webasm');
});
s.after(() => be.destroy());

const copy = defineMapKernel('t_copy', { outputType: 'f32' }, (b) => b.input('x', 'f32'), ({ index }, x) => x.at(index));

s('a buffer past 2^24 elements is refused at allocation, with the numbers', () => {
  assert.throws(() => be.allocate(EXACT_INT + 1, 'f32'),
    (e: Error) => /gpujs:webasm: a f32 buffer has 16777217 elements; .*exact up to 16777216 elements per buffer \(67108864 bytes\)/.test(e.message));
  assert.is(be.capabilities.limits.maxStorageBufferBindingSize, EXACT_INT * 4);
  const ok = be.allocate(EXACT_INT, 'f32');
  be.free(ok);
});

s('an integer uniform or i32 value past ±2^24 is refused, with the numbers', () => {
  const x = be.allocate(4, 'f32');
  const out = be.allocate(4, 'f32');
  const k = defineMapKernel('t_off', { outputType: 'f32' }, (b) => ({ x: b.input('x', 'f32'), off: b.uniform('off', 'i32') }), ({ index }, { x, off }) => x.at(index.add(off)));
  assert.throws(() => be.dispatch(be.compile(k), { buffers: { x, out }, uniforms: { off: 2 ** 25, count: 4 } }, [1, 1, 1]),
    /kernel 't_off' uniform 'off' is 33554432; integers inside gpu.js kernels are f32, exact only within ±16777216/);
  const ids = be.allocate(3, 'i32');
  assert.throws(() => be.write(ids, [1, 2 ** 24 + 1, 3]), /element 1 is 16777217; i32 values on gpu.js are stored as f32/);
  for (const b of [x, out, ids]) be.free(b);
});

s('a dispatch writing past its output is refused', () => {
  const x = be.allocate(100, 'f32');
  const out = be.allocate(10, 'f32');
  assert.throws(() => be.dispatch(be.compile(copy), { buffers: { x, out }, uniforms: { count: 100 } }, [2, 1, 1]),
    /kernel 't_copy': writes 100 elements into 'out', which holds 10/);
  be.free(x);
  be.free(out);
});

s('a kernel that is not a map kernel is refused', () => {
  const k = defineKernel('plain', { workgroupSize: 64 }, (b) => {
    const out = b.output('out', 'f32');
    out.store(b.globalId(), f32(1));
  });
  assert.throws(() => be.compile(k), /gpujs:webasm: kernel 'plain' is not a map kernel, and this backend runs only map kernels/);
});

s('a kernel needing workgroup memory or subgroups is refused', () => {
  const k = defineKernel('shared', { workgroupSize: 64 }, (b) => {
    const out = b.output('out', 'f32');
    const tile = b.workgroupArray('tile', 'f32', 64);
    tile.store(b.localId(), f32(1));
    b.barrier();
    out.store(b.globalId(), tile.at(0));
  });
  assert.throws(() => be.compile(k), /kernel 'shared' needs 'workgroupMemory', which this backend lacks/);
  const sg = defineKernel('sg', { workgroupSize: 64 }, (b) => {
    b.output('out', 'f32').store(b.globalId(), b.subgroupAdd(f32(1)));
  });
  assert.throws(() => be.compile(sg), /needs 'subgroups'/);
});

s('a map kernel with vector buffers or an extra store is refused by the lowering', () => {
  const vec = defineMapKernel('t_vec', { outputType: 'f32' }, (b) => b.input('x', 'vec4<f32>'), ({ index }, x) => x.at(index).x);
  assert.throws(() => be.compile(vec), /kernel 't_vec' cannot be lowered to gpu.js: buffer 'x' has the vector type vec4<f32>/);
  const guard = copy.body[1] as Extract<C.Stmt, { k: 'if' }>;
  const twice: C.Kernel = { ...copy, name: 't_twice', body: [copy.body[0]!, { ...guard, then: [guard.then[0]!, ...guard.then] }] };
  assert.throws(() => be.compile(twice), /kernel 't_twice' cannot be lowered to gpu.js: only the final 'out\[idx\] = value' may store/);
});

s('an unknown or unavailable mode is refused with the reason', async () => {
  const registered = await import('@cce/backend-gpujs');
  assert.ok(registered);
  await C.useBackend('gpujs:nope', { log: () => {} }).then(
    () => assert.unreachable('accepted gpujs:nope'),
    (e: Error) => assert.match(e.message, /gpujs: unknown mode 'nope' \(use gpujs, gpujs:webgpu, gpujs:headlessgl, gpujs:webasm or gpujs:cpu\)/));
  // headless-gl's native addon is not built here (pnpm allowBuilds gl: false)
  const gl = await registered.probeMode('headlessgl');
  if (!gl.available) {
    await createGpujsBackend('headlessgl').then(
      () => assert.unreachable('started headlessgl'),
      (e: Error) => assert.match(e.message, /gpujs: mode 'headlessgl' is unavailable: the native 'gl' addon does not load/));
  }
});

s('backends are chosen by name through the registry, with a one-line report', async () => {
  const lines: string[] = [];
  const b = await C.useBackend('gpujs:cpu', { log: (l) => lines.push(l) });
  try {
    assert.is(b.name, 'gpujs:cpu');
    assert.is(lines.length, 1);
    assert.match(lines[0]!, /^backend: gpujs:cpu \(JavaScript\) — as requested$/);
  } finally {
    C.setBackend(null);
    b.destroy();
  }
});

s.run();
