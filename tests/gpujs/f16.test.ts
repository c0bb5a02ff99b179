// f16 on gpu.js is refused, never emulated: gpu.js computes and stores f32, and packing two halves in a
// word would make two map invocations write one word. The refusal names the op, the dtype and the
// backend, at the tensor (before anything is allocated), at the buffer, and at a kernel that uses f16.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as C from '@cce/core';
import { type GpujsBackend, createGpujsBackend, lowerMapKernel } from '@cce/backend-gpujs';

const s = suite('gpujs f16');
let be: GpujsBackend;
s.before(async () => {
  be = await createGpujsBackend('cpu');
});
s.after(() => be.destroy());

s('the backend has no f16 capability', () => {
  assert.not.ok(be.capabilities.features.has('f16'));
});

s('f16 tensors are refused naming the op, the dtype and the backend', () => {
  const before = be.memory().liveBuffers;
  assert.throws(() => C.tensor([1, 2, 3], [3], { dtype: 'f16', backend: be }), /^tensor: dtype f16 is not supported by backend 'gpujs:cpu'/);
  assert.throws(() => C.zeros([4], { dtype: 'f16', backend: be }), /^zeros: dtype f16 is not supported by backend 'gpujs:cpu'/);
  const x = C.tensor([1, 2, 3], [3], { backend: be });
  assert.throws(() => C.cast(x, 'f16'), /^cast_f16: dtype f16 is not supported by backend 'gpujs:cpu'.*never emulated by packing/);
  x.dispose();
  assert.is(be.memory().liveBuffers, before, 'nothing was allocated');
});

s('an f16 buffer and a kernel using f16 are refused', () => {
  assert.throws(() => be.allocate(8, 'f16'), /gpujs: cannot allocate an f16 buffer \(8 elements\): gpu.js has f32 storage only/);
  const k = C.defineMapKernel('t_half', { outputType: 'f32' }, (b) => b.input('x', 'f32'), ({ index }, x) => x.at(index).toF16().toF32());
  assert.throws(() => be.compile(k), /gpujs:cpu: kernel 't_half' needs 'f16', which this backend lacks \(f16 values: WebGPU feature shader-f16\)/);
  // Lowered directly (as tools do), the lowering refuses it too.
  assert.throws(() => lowerMapKernel(k, C.validateKernel(k), { roundF32: true, exactDivision: true }), /kernel 't_half' cannot be lowered to gpu.js: it uses f16/);
});

s.run();
