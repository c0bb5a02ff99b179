// The Backend contract on each gpu.js mode: ordering of writes, dispatches and reads; outputs that a
// dispatch covers only in part; kernels that read their own output; i32 storage; memory statistics;
// the worker-pool path of 'webasm'.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as C from '@cce/core';
import { type Expr, type Kernel, type Stmt, defineMapKernel, f32, grid1d, i32 } from '@cce/core';
import { type GpujsBackend, createGpujsBackend } from '@cce/backend-gpujs';
import { testModes } from './modes.js';

/** out[i] = x[i] * s + i / 3 (integer division) */
const scaleKernel = defineMapKernel('t_scale', { outputType: 'f32' },
  (b) => ({ x: b.input('x', 'f32'), s: b.uniform('s', 'f32') }),
  ({ index }, { x, s }) => x.at(index).mul(s).add(index.div(3).toF32()));

/** out[i] = out[i] + x[i]: a map kernel that reads its own output (built by editing the IR). */
function accumulateKernel(): Kernel {
  const k = defineMapKernel('t_acc', { outputType: 'f32' }, (b) => b.input('x', 'f32'), ({ index }, x) => x.at(index));
  const guard = k.body[1] as Extract<Stmt, { k: 'if' }>;
  const store = guard.then[guard.then.length - 1] as Extract<Stmt, { k: 'store' }>;
  const value: Expr = { k: 'binary', op: '+', a: { k: 'load', buf: 'out', index: store.index }, b: store.value };
  return { ...k, body: [k.body[0]!, { ...guard, then: [...guard.then.slice(0, -1), { ...store, value }] }] };
}

/** out[i] = ids[i] * 2 - 7 in i32 */
const intKernel = defineMapKernel('t_int', { outputType: 'i32' }, (b) => b.input('ids', 'i32'), ({ index }, ids) => ids.at(index).mul(2).sub(i32(7)));

const grid = (be: C.Backend, n: number) => grid1d(n, 64, be.capabilities.limits.maxWorkgroupsPerDimension);

function run(be: C.Backend, k: Kernel, buffers: Record<string, C.DeviceBuffer>, uniforms: Record<string, number>, g?: C.Grid) {
  be.dispatch(be.compile(k), { buffers, uniforms }, g ?? grid(be, uniforms.count!));
}

const s = suite('gpujs backend contract');
const backends = new Map<string, GpujsBackend>();
s.after(() => {
  for (const b of backends.values()) b.destroy();
});

for (const mode of await testModes()) {
  const be = async () => {
    let b = backends.get(mode);
    if (!b) {
      b = await createGpujsBackend(mode);
      backends.set(mode, b);
    }
    return b;
  };

  s(`${mode}: a dispatch sees the writes before it and not those after it`, async () => {
    const b = await be();
    const n = 300;
    const x = b.allocate(n, 'f32');
    const out1 = b.allocate(n, 'f32');
    const out2 = b.allocate(n, 'f32');
    b.write(x, Float32Array.from({ length: n }, (_, i) => i));
    run(b, scaleKernel, { x, out: out1 }, { s: 2, count: n });
    b.write(x, new Float32Array(n).fill(1));
    run(b, scaleKernel, { x, out: out2 }, { s: 2, count: n });
    b.write(x, new Float32Array(n).fill(5), 0);
    const [r1, r2] = await Promise.all([b.read(out1), b.read(out2)]);
    for (let i = 0; i < n; i++) {
      assert.is(r1[i], i * 2 + Math.trunc(i / 3));
      assert.is(r2[i], 2 + Math.trunc(i / 3));
    }
    for (const buf of [x, out1, out2]) b.free(buf);
  });

  s(`${mode}: a read sees every earlier dispatch, even when the output is written again after it`, async () => {
    const b = await be();
    const x = b.allocate(10, 'f32');
    const out = b.allocate(10, 'f32');
    b.write(x, new Float32Array(10).fill(1));
    run(b, scaleKernel, { x, out }, { s: 1, count: 10 });
    const first = b.read(out);
    run(b, scaleKernel, { x, out }, { s: 100, count: 10 });
    const second = b.read(out);
    assert.is((await first)[9], 1 + 3);
    assert.is((await second)[9], 100 + 3);
    b.free(x);
    b.free(out);
  });

  s(`${mode}: elements past count, or past the grid, keep their values`, async () => {
    const b = await be();
    const n = 200;
    const x = b.allocate(n, 'f32');
    const out = b.allocate(n, 'f32');
    b.write(x, new Float32Array(n).fill(1));
    b.write(out, new Float32Array(n).fill(-1));
    run(b, scaleKernel, { x, out }, { s: 10, count: 150 });
    let r = await b.read(out);
    assert.is(r[149], 10 + 49);
    assert.is(r[150], -1);
    assert.is(r[199], -1);
    // a grid of one workgroup of 64 covers elements 0..63 only
    b.write(out, new Float32Array(n).fill(-2));
    run(b, scaleKernel, { x, out }, { s: 10, count: n }, [1, 1, 1]);
    r = await b.read(out);
    assert.is(r[63], 10 + 21);
    assert.is(r[64], -2);
    b.free(x);
    b.free(out);
  });

  s(`${mode}: a kernel may read its own output's previous values`, async () => {
    const b = await be();
    const k = accumulateKernel();
    const x = b.allocate(70, 'f32');
    const out = b.allocate(70, 'f32');
    b.write(x, Float32Array.from({ length: 70 }, (_, i) => i));
    b.write(out, new Float32Array(70).fill(0.5));
    run(b, k, { x, out }, { count: 70 });
    run(b, k, { x, out }, { count: 70 });
    const r = await b.read(out);
    assert.is(r[69], 0.5 + 2 * 69);
    b.free(x);
    b.free(out);
  });

  s(`${mode}: i32 buffers hold exact integers and read back as Int32Array`, async () => {
    const b = await be();
    const vals = Int32Array.from([0, -1, 7, -100, 16777216, -16777216, 123456]);
    const ids = b.allocate(vals.length, 'i32');
    const out = b.allocate(vals.length, 'i32');
    b.write(ids, vals);
    run(b, intKernel, { ids, out }, { count: vals.length });
    const back = await b.read(ids);
    assert.instance(back, Int32Array);
    assert.equal(Array.from(back), Array.from(vals));
    assert.equal(Array.from(await b.read(out)).slice(0, 3), [-7, -9, 7]);
    b.free(ids);
    b.free(out);
  });

  s(`${mode}: memory statistics count live buffers and bytes`, async () => {
    const b = await be();
    const before = b.memory();
    b.resetPeak();
    const a = b.allocate(1000, 'f32');
    const c = b.allocate(10, 'i32');
    assert.equal(b.memory().liveBuffers, before.liveBuffers + 2);
    assert.equal(b.memory().bytesInUse, before.bytesInUse + 4040);
    b.free(a);
    assert.equal(b.memory().peakBytes, before.bytesInUse + 4040);
    b.free(c);
    assert.equal(b.memory().bytesInUse, before.bytesInUse);
    assert.throws(() => b.free(c), /freed/);
    await b.flush();
  });

  s(`${mode}: many small dispatches stay in order (a chain of 40 kernels)`, async () => {
    const b = await be();
    const n = 5000; // >= 4096: the 'webasm' worker pool path
    let cur = b.allocate(n, 'f32');
    b.write(cur, new Float32Array(n).fill(1));
    for (let step = 0; step < 40; step++) {
      const next = b.allocate(n, 'f32');
      run(b, scaleKernel, { x: cur, out: next }, { s: 1, count: n });
      b.free(cur);
      cur = next;
    }
    const r = await b.read(cur);
    assert.is(r[0], 1);
    assert.is(r[n - 1], 1 + 40 * Math.trunc((n - 1) / 3));
    b.free(cur);
    await b.flush();
  });
}

s('webasm: kernels with a loop and at least 4096 outputs run on the worker pool where threads exist', async () => {
  const loop = defineMapKernel('t_loop', { outputType: 'f32' },
    (b) => ({ x: b.input('x', 'f32'), K: b.uniform('K', 'i32') }),
    ({ b, index }, { x, K }) => {
      const acc = b.var('acc', f32(0));
      b.for('k', 0, K, (k) => acc.set(acc.add(x.at(index).mul(k.toF32()))));
      return acc;
    });
  const b = await createGpujsBackend('webasm');
  try {
    const n = 10000;
    const x = b.allocate(n, 'f32');
    const out = b.allocate(n, 'f32');
    b.write(x, Float32Array.from({ length: n }, (_, i) => i % 7));
    run(b, loop, { x, out }, { K: 4, count: n });
    const r = await b.read(out);
    for (let i = 0; i < n; i += 997) assert.is(r[i], (i % 7) * 6);
    if (b.description.includes('worker threads')) assert.ok((b.runCounts().threaded ?? 0) === 1, JSON.stringify(b.runCounts()));
    // a loop-free kernel of the same size stays on the calling thread (a pool round trip costs more)
    run(b, scaleKernel, { x, out }, { s: 1, count: n });
    assert.is((await b.read(out))[n - 1], ((n - 1) % 7) + Math.trunc((n - 1) / 3));
    assert.is(b.runCounts().threaded ?? 0, b.description.includes('worker threads') ? 1 : 0);
    b.free(x);
    b.free(out);
  } finally {
    b.destroy();
  }
});

s('the self-test kernel and f32 constants agree with the reference on every mode', async () => {
  // f32(0.1) is rounded to f32 before it reaches gpu.js, so 'cpu' mode (float64 inside) rounds like the others.
  const k = defineMapKernel('t_const', { outputType: 'f32' }, (b) => b.input('x', 'f32'), ({ index }, x) => x.at(index).mul(f32(0.1)).mul(3).sub(x.at(index).mul(0.3)));
  const xs = Float32Array.from([1, 7, 13, 0.5]);
  const ref = new C.CpuBackend({ precision: 'f32' });
  const eval1 = async (be: C.Backend) => {
    const x = be.allocate(4, 'f32');
    const out = be.allocate(4, 'f32');
    be.write(x, xs);
    run(be, k, { x, out }, { count: 4 });
    const r = Array.from(await be.read(out));
    be.free(x);
    be.free(out);
    return r;
  };
  const want = await eval1(ref);
  for (const mode of ['webasm', 'cpu'] as const) {
    const b = await createGpujsBackend(mode);
    try {
      assert.equal(await eval1(b), want, `gpujs:${mode} rounds every f32 operation like the reference`);
    } finally {
      b.destroy();
    }
  }
});

s.run();
