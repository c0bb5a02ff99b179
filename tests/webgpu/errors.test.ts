// Clear errors on WebGPU: an oversized tensor (refused before dispatch, with the numbers), invalid kernels
// (IR errors, limits, WGSL the device rejects: reported naming the kernel, and the backend still works),
// aliasing bindings, and a lost device (device.destroy()).
import { suite } from 'uvu';
import * as C from '@cce/core';
import { defineKernel, f32 } from '@cce/core';
import { type WebGpuBackend, createWebGpuBackend } from '@cce/backend-webgpu';
import { requireBackend, webgpuAvailable } from './support.js';

async function rejects(what: string, p: Promise<unknown> | (() => unknown), ...parts: (string | RegExp)[]): Promise<string> {
  let message: string | null = null;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    message = (e as Error).message;
  }
  if (message === null) throw new Error(`${what}: expected an error`);
  if (process.env.SHOW_ERRORS) console.log(`\n[${what}] ${message.split("\n").slice(0, 3).join(" / ")}`);
  for (const part of parts) {
    const ok = typeof part === 'string' ? message.includes(part) : part.test(message);
    if (!ok) throw new Error(`${what}: the error should mention ${String(part)}, got: ${message}`);
  }
  return message;
}

const addOne = defineKernel('add_one', { workgroupSize: 64 }, (b) => {
  const x = b.input('x', 'f32');
  const out = b.output('out', 'f32');
  const n = b.uniform('n', 'i32');
  const i = b.let('i', b.globalId());
  b.if(i.lt(n), () => out.store(i, x.at(i).add(f32(1))));
});

if (await webgpuAvailable('errors')) {
  const s = suite('errors: webgpu');
  let be: WebGpuBackend;
  s.before(async () => {
    be = await requireBackend();
  });

  s('past the largest storage binding: elementwise ops go by windows, a strided copy is refused with the numbers', async () => {
    const limit = be.capabilities.limits.maxStorageBufferBindingSize;
    const n = limit / 4 + 2 * 64; // two rows of n / 2, so the tensor can be transposed
    const live = be.memory().liveBuffers;
    await C.scope(async () => {
      // Contiguous elementwise ops bind windows of the buffer (core's dispatchWindows): every element is right,
      // the last window's included.
      const big = C.addScalar(C.full([n], 2, { backend: be }), 1);
      const v = await big.read();
      let wrong = -1;
      for (let i = 0; i < n && wrong < 0; i++) if (v[i] !== 3) wrong = i;
      if (wrong >= 0) throw new Error(`addScalar over windows: element ${wrong} of ${n} is ${v[wrong]}, expected 3`);
      await rejects('permute of an oversized tensor', () => C.permute(C.reshape(big, [2, n / 2]), [1, 0]), 'webgpu', String(n * 4), String(limit), /kernel '[^']+'/);
    });
    if (be.memory().liveBuffers !== live) throw new Error('the refused op leaked buffers');
  });

  s('an allocation past the largest buffer is refused with the numbers', async () => {
    const max = be.capabilities.limits.maxBufferSize;
    const n = Math.floor(max / 4) + 1;
    await rejects('allocate', () => be.allocate(n, 'f32'), String(n), String(max));
  });

  s('an invalid kernel (IR type error) names the kernel', async () => {
    const bad = defineKernel('bad_types', { workgroupSize: 64 }, (b) => {
      const out = b.output('out', 'i32');
      out.store(b.globalId(), f32(1.5));
    });
    await rejects('compile', () => be.compile(bad), "kernel 'bad_types'", 'f32', 'i32');
  });

  s('workgroup memory and invocation limits are checked with the numbers', async () => {
    const limit = be.capabilities.limits.maxWorkgroupStorageSize;
    const floats = limit / 4 + 16;
    const big = defineKernel('too_much_shared', { workgroupSize: 64 }, (b) => {
      const out = b.output('out', 'f32');
      const tile = b.workgroupArray('tile', 'f32', floats);
      tile.store(b.localIndex(), f32(1));
      b.barrier();
      out.store(b.globalId(), tile.at(0));
    });
    await rejects('compile', () => be.compile(big), "kernel 'too_much_shared'", String(floats * 4), String(limit));
    const max = be.capabilities.limits.maxInvocationsPerWorkgroup;
    const wide = defineKernel('too_wide', { workgroupSize: [max, 2, 1] }, (b) => b.output('out', 'f32').store(b.globalId(), f32(0)));
    await rejects('compile', () => be.compile(wide), "kernel 'too_wide'", String(2 * max), String(max));
  });

  s('WGSL the device rejects is reported at the next read, naming the kernel; the backend still works', async () => {
    const broken = defineKernel('broken_wgsl', { workgroupSize: 64 }, (b) => {
      const x = b.input('x', 'f32');
      const out = b.output('out', 'f32');
      out.store(b.globalId(), x.at(b.globalId()));
    });
    const exe = be.compileWgsl(broken, '@compute @workgroup_size(64) fn main() { let x: f32 = undefined_thing; }');
    const x = be.allocate(64, 'f32');
    const y = be.allocate(64, 'f32');
    try {
      await rejects('dispatch and read', async () => {
        be.dispatch(exe, { buffers: { x, y, out: y } }, [1, 1, 1]);
        await be.read(y);
      }, "kernel 'broken_wgsl'");
      await rejects('dispatch of the failed kernel', async () => {
        be.dispatch(exe, { buffers: { x, out: y } }, [1, 1, 1]);
        await be.flush();
      }, "kernel 'broken_wgsl'", 'failed to compile');
    } finally {
      be.free(x);
      be.free(y);
    }
    // Later work is unaffected.
    const got = await C.scope(async () => C.addScalar(C.tensor([1, 2, 3], [3], { backend: be }), 1).read());
    if (Array.from(got).join() !== '2,3,4') throw new Error(`backend broken after a failed kernel: ${got}`);
  });

  s('binding one buffer as input and output is refused (WebGPU forbids writable aliases)', async () => {
    const x = be.allocate(64, 'f32');
    try {
      await rejects('aliasing', () => be.dispatch(be.compile(addOne), { buffers: { x, out: x }, uniforms: { n: 64 } }, [1, 1, 1]), "kernel 'add_one'", "'x'", "'out'");
    } finally {
      be.free(x);
    }
  });

  s('an error the GPU reports for a batch names the batch\'s kernels (error scopes)', async () => {
    const x = be.allocate(64, 'f32');
    const y = be.allocate(64, 'f32');
    // Destroying the GPU buffer behind the backend's back makes the submit invalid.
    (x as unknown as { gpu: GPUBuffer }).gpu.destroy();
    try {
      await rejects('submit with a destroyed buffer', async () => {
        be.dispatch(be.compile(addOne), { buffers: { x, out: y }, uniforms: { n: 64 } }, [1, 1, 1]);
        await be.flush();
      }, 'the GPU reported an error', "kernels: add_one", 'destroyed');
    } finally {
      be.free(y);
    }
    const got = await C.scope(async () => C.addScalar(C.tensor([1, 2], [2], { backend: be }), 1).read());
    if (Array.from(got).join() !== '2,3') throw new Error(`backend broken after a batch error: ${got}`);
  });

  s('an error outside any batch (uncaptured) is thrown by the next flush', async () => {
    await be.flush();
    be.device.createBuffer({ size: 16, usage: 0xffff });
    await rejects('flush after an invalid createBuffer', be.flush(), 'outside a batch', 'BufferUsage');
    await be.flush();
  });

  s('no adapter: the error says so and how to install a software driver', async () => {
    await rejects('an adapter that does not exist', createWebGpuBackend({ dawnOptions: ['adapter=no-such-adapter'] }), 'no WebGPU adapter', 'lavapipe', 'Vulkan');
  });

  s('a lost device (device.destroy()) gives a clear error, then every call does', async () => {
    const own = await createWebGpuBackend();
    const t = C.tensor([1, 2, 3], [3], { backend: own });
    own.device.destroy();
    await rejects('read after device loss', async () => C.addScalar(t, 1).read(), 'device was lost', 'destroyed');
    await rejects('dispatch after device loss', () => C.addScalar(t, 1), 'device was lost');
    await rejects('write after device loss', () => C.tensor([1], [1], { backend: own }), 'device was lost');
    own.destroy();
  });

  s.run();
}
