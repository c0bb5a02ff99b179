// The WebGPU backend's machinery: device acquisition and its report (the adapter's own limits), the
// registry entry, the pipeline cache, batching of dispatches into one command buffer, frees deferred
// until the work that uses them is submitted, write ordering, the buffer pool, and the profiler.
import { suite } from 'uvu';
import * as C from '@cce/core';
import { defineKernel, f32 } from '@cce/core';
import { type WebGpuBackend, createWebGpuBackend, formatProfile, sizeClass } from '@cce/backend-webgpu';
import { requireBackend, webgpuAvailable } from './support.js';

const addOne = defineKernel('bt_add_one', { workgroupSize: 64 }, (b) => {
  const x = b.input('x', 'f32');
  const out = b.output('out', 'f32');
  const n = b.uniform('n', 'i32');
  const i = b.let('i', b.globalId());
  b.if(i.lt(n), () => out.store(i, x.at(i).add(f32(1))));
});

const same = (what: string, got: ArrayLike<number>, want: number[]) => {
  if (Array.from(got).join() !== want.join()) throw new Error(`${what}: got [${Array.from(got).join(', ')}], expected [${want.join(', ')}]`);
};

if (await webgpuAvailable('backend')) {
  const s = suite('webgpu backend');
  let be: WebGpuBackend;
  s.before(async () => {
    be = await requireBackend();
  });

  s('the device has the adapter\'s limits, and the report names the adapter, its limits and features', () => {
    const r = be.report;
    if (!r.name || r.name === 'unnamed adapter') throw new Error(`adapter unnamed: ${JSON.stringify(r)}`);
    const adapterLimits = be.adapter.limits;
    for (const k of ['maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxBufferSize'] as const) {
      if (be.device.limits[k] !== adapterLimits[k]) throw new Error(`${k}: device ${be.device.limits[k]}, adapter ${adapterLimits[k]}`);
      if (r.limits[k] !== adapterLimits[k]) throw new Error(`report's ${k} is ${r.limits[k]}`);
    }
    for (const f of ['subgroups', 'timestamp-query']) {
      if (be.adapter.features.has(f) && !be.device.features.has(f)) throw new Error(`feature '${f}' offered but not requested`);
    }
    if (!r.features.length || !r.adapterFeatures.length) throw new Error('features not reported');
    if (!be.description.includes(r.name)) throw new Error(`description lacks the adapter: ${be.description}`);
    const caps = be.capabilities;
    if (caps.limits.maxStorageBufferBindingSize !== adapterLimits.maxStorageBufferBindingSize) throw new Error('capabilities disagree with the device');
    if (be.device.features.has('subgroups') !== caps.features.has('subgroups')) throw new Error('subgroups capability disagrees with the device');
  });

  s("importing the package registers 'webgpu' above the CPU reference", () => {
    const names = C.registeredBackends();
    if (names.indexOf('webgpu') < 0 || names.indexOf('webgpu') > names.indexOf('cpu')) throw new Error(`registered: ${names.join(', ')}`);
  });

  s('pipelines are cached by kernel hash', () => {
    const before = be.pipelineCount;
    const a = be.compile(addOne);
    const copy = defineKernel('bt_add_one', { workgroupSize: 64 }, (b) => {
      const x = b.input('x', 'f32');
      const out = b.output('out', 'f32');
      const n = b.uniform('n', 'i32');
      const i = b.let('i', b.globalId());
      b.if(i.lt(n), () => out.store(i, x.at(i).add(f32(1))));
    });
    if (be.compile(copy) !== a) throw new Error('an identical kernel compiled twice');
    if (be.pipelineCount > before + 1) throw new Error('more than one pipeline for one kernel');
  });

  s('many dispatches go into one command buffer; a read submits and sees them all', async () => {
    const exe = be.compile(addOne);
    const x = be.allocate(100, 'f32');
    const y = be.allocate(100, 'f32');
    be.write(x, new Float32Array(100).fill(0));
    await be.flush();
    const submits = be.submits;
    for (let i = 0; i < 20; i++) {
      const [src, dst] = i % 2 === 0 ? [x, y] : [y, x];
      be.dispatch(exe, { buffers: { x: src, out: dst }, uniforms: { n: 100 } }, [2, 1, 1]);
    }
    if (be.submits !== submits) throw new Error('dispatches were submitted one by one');
    const got = await be.read(x);
    if (be.submits !== submits + 1) throw new Error(`expected one submit, got ${be.submits - submits}`);
    same('after 20 chained dispatches', got.slice(0, 3), [20, 20, 20]);
    be.free(x);
    be.free(y);
  });

  s('a full batch is submitted on its own (maxBatch)', async () => {
    const exe = be.compile(addOne);
    const x = be.allocate(64, 'f32');
    const y = be.allocate(64, 'f32');
    const submits = be.submits;
    for (let i = 0; i < be.maxBatch + 3; i++) be.dispatch(exe, { buffers: { x, out: y }, uniforms: { n: 64 } }, [1, 1, 1]);
    if (be.submits !== submits + 1) throw new Error(`expected one submit after ${be.maxBatch} dispatches, got ${be.submits - submits}`);
    await be.flush();
    be.free(x);
    be.free(y);
  });

  s('a freed buffer goes back (or is destroyed) only after the work that reads it is submitted', async () => {
    // With no pool, a free destroys the GPU buffer: done at once, the pending batch would fail to submit.
    const own = await createWebGpuBackend({ maxPooledBytes: 0 });
    try {
      const exe = own.compile(addOne);
      const x = own.allocate(64, 'f32');
      own.write(x, new Float32Array(64).fill(5));
      const y = own.allocate(64, 'f32');
      own.dispatch(exe, { buffers: { x, out: y }, uniforms: { n: 64 } }, [1, 1, 1]);
      own.free(x);
      same('dispatch whose input was freed before submission', (await own.read(y)).slice(0, 2), [6, 6]);
      own.free(y);
    } finally {
      own.destroy();
    }
  });

  s('a write to a buffer that pending work reads lands after that work', async () => {
    const exe = be.compile(addOne);
    const x = be.allocate(64, 'f32');
    const y = be.allocate(64, 'f32');
    be.write(x, new Float32Array(64).fill(1));
    be.dispatch(exe, { buffers: { x, out: y }, uniforms: { n: 64 } }, [1, 1, 1]);
    be.write(x, new Float32Array(64).fill(50));
    same('write after dispatch', (await be.read(y)).slice(0, 2), [2, 2]);
    same('written', (await be.read(x)).slice(0, 2), [50, 50]);
    be.free(x);
    be.free(y);
  });

  s('the pool reuses buffers by size class and counts live buffers and bytes', async () => {
    if (sizeClass(1000) < 1000 || sizeClass(1000) > 1250 || sizeClass(1) !== 256 || sizeClass(5000) % 16) throw new Error('size classes');
    const m0 = be.memory();
    const a = be.allocate(1000, 'f32');
    const m1 = be.memory();
    if (m1.liveBuffers !== m0.liveBuffers + 1 || m1.bytesInUse !== m0.bytesInUse + a.bytes || a.bytes < 4000) throw new Error('counters after allocate');
    be.free(a);
    const m2 = be.memory();
    if (m2.liveBuffers !== m0.liveBuffers || m2.pooledBytes < a.bytes) throw new Error('counters after free');
    const b = be.allocate(990, 'f32');
    if (be.memory().pooledBytes !== m2.pooledBytes - b.bytes) throw new Error('the pool did not serve a same-class allocation');
    be.free(b);
  });

  s('an empty tensor reads as empty; zero-sized grids dispatch nothing', async () => {
    const e = be.allocate(0, 'f32');
    const f = be.allocate(0, 'f32');
    if ((await be.read(e)).length !== 0) throw new Error('empty read');
    be.dispatch(be.compile(addOne), { buffers: { x: e, out: f }, uniforms: { n: 0 } }, [0, 1, 1]);
    await be.flush();
    be.free(e);
    be.free(f);
  });

  s('the profiler times each kernel with timestamp queries and prints a table', async () => {
    if (!be.device.features.has('timestamp-query')) {
      if (process.env.CI) throw new Error('the CI adapter (lavapipe) offers timestamp queries; this one does not');
      return;
    }
    const prof = be.startProfiling();
    prof.reset();
    await C.scope(async () => {
      const x = C.tensor(Float32Array.from({ length: 4096 }, (_, i) => i / 4096), [64, 64], { backend: be });
      const y = C.matmul(x, x);
      await C.tanh(y).read();
    });
    const done = await be.stopProfiling();
    const rows = done.rows();
    const kernels = rows.map((r) => r.kernel);
    if (!kernels.some((k) => k.startsWith('matmul')) || !kernels.some((k) => k.includes('tanh'))) throw new Error(`profiled kernels: ${kernels.join(', ')}`);
    if (rows.some((r) => !(r.totalMs >= 0) || r.dispatches < 1)) throw new Error(`bad rows: ${JSON.stringify(rows)}`);
    const table = formatProfile(rows);
    if (!table.includes('kernel') || !table.includes('total') || table.split('\n').length !== rows.length + 3) throw new Error(`table:\n${table}`);
    if (be.profiler) throw new Error('profiler still on');
  });

  s('profile rows and kernel errors name the fused op around a kernel (op/kernel)', async () => {
    if (!be.device.features.has('timestamp-query')) {
      if (process.env.CI) throw new Error('the CI adapter (lavapipe) offers timestamp queries; this one does not');
      return;
    }
    const cube = C.defineFusedOp<Record<string, never>>({
      name: 'cube',
      forward: ([x]) => ({ output: C.mul(C.mul(x!, x!), x!) }),
      backward: (g, { inputs: [x] }) => [C.mul(C.mulScalar(C.mul(x!, x!), 3), g)],
    });
    const prof = be.startProfiling();
    prof.reset();
    await C.scope(async () => {
      const x = C.tensor([1, 2, 3], [3], { backend: be });
      x.requiresGrad = true;
      C.backward(C.sum(cube([x], {})));
      await x.grad!.read();
    });
    const kernels = (await be.stopProfiling()).rows().map((r) => r.kernel);
    if (!kernels.some((k) => k.startsWith('cube/ew_mul')) || !kernels.some((k) => k.startsWith('cube (backward)/'))) {
      throw new Error(`profiled kernels: ${kernels.join(', ')}`);
    }
    if (kernels.some((k) => k.startsWith('reduce') && k.includes('/'))) throw new Error(`a kernel outside the op was attributed to it: ${kernels.join(', ')}`);
    // A binding error inside the op names it too.
    const bad = C.defineFusedOp<Record<string, never>>({
      name: 'misbound',
      forward: ([x]) => ({ output: C.runMap(C.memoKernel('test:misbound', () => C.defineMapKernel('misbound', { outputType: 'f32' }, (b) => b.input('v', 'f32'), ({ index }, v) => v.at(index))), C.Tensor.empty(x!.shape, 'f32', be, 'test'), {}) }),
      backward: () => [null],
    });
    await C.scope(async () => {
      const x = C.tensor([1, 2], [2], { backend: be });
      try {
        bad([x], {});
        throw new Error('accepted');
      } catch (e) {
        if (!/kernel 'misbound' of op 'misbound': buffer 'v' is not bound/.test((e as Error).message)) throw e;
      }
    });
  });

  s("useBackend('webgpu') starts a backend through the registry", async () => {
    const prev = C.getBackendOrNull();
    const lines: string[] = [];
    const b = await C.useBackend('webgpu', { log: (l) => lines.push(l) });
    try {
      if (b.name !== 'webgpu' || !lines[0]?.includes('webgpu')) throw new Error(`got ${b.name}: ${lines.join('; ')}`);
    } finally {
      C.setBackend(prev);
      b.destroy();
    }
  });

  s.run();
}
