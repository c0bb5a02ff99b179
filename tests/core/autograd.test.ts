// Autograd end to end: a 2-layer MLP's gradients by gradcheck, gradient accumulation, no-grad scopes,
// the leak test over MLP + SGD steps, memory scopes across await, and clear errors.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as C from '@cce/core';
import { MLP, SGD, AdamW } from '@cce/nn';
import { hostInput } from '@cce/core';

const s = suite('autograd');
const cpu = new C.CpuBackend({ precision: 'f64' });

s('a 2-layer MLP with cross-entropy passes gradcheck', async () => {
  C.setBackend(cpu);
  const rng = C.mulberry32(11);
  const x = C.tensor(hostInput({ shape: [7, 5] }, rng), [7, 5]);
  const w1 = C.tensor(hostInput({ shape: [5, 9] }, rng), [5, 9]);
  const b1 = C.tensor(hostInput({ shape: [9] }, rng), [9]);
  const w2 = C.tensor(hostInput({ shape: [9, 3] }, rng), [9, 3]);
  const b2 = C.tensor(hostInput({ shape: [3] }, rng), [3]);
  const y = C.tensor(Int32Array.from([0, 2, 1, 1, -100, 0, 2]), [7]);
  const mlp = (xv: C.Tensor, a: C.Tensor, b: C.Tensor, c: C.Tensor, d: C.Tensor, t: C.Tensor) =>
    C.crossEntropy(C.add(C.matmul(C.gelu(C.add(C.matmul(xv, a), b)), c), d), t);
  const result = await C.gradcheck(mlp, [x, w1, b1, w2, b2, y]);
  assert.is(result.checked, 35 + 45 + 9 + 27 + 3);
  assert.ok(result.ok, C.formatGradcheck(result));
});

s('gradients accumulate across backward calls and through shared inputs', async () => {
  C.setBackend(cpu);
  const x = C.tensor([1, 2, 3]);
  x.requiresGrad = true;
  C.backward(C.sum(C.mul(x, x)));
  assert.equal(await x.grad!.toArray(), [2, 4, 6]);
  C.backward(C.sum(C.add(x, x)));
  assert.equal(await x.grad!.toArray(), [4, 6, 8]);
});

s('backward of a leaf gives it the seed gradient', async () => {
  C.setBackend(cpu);
  const x = C.tensor([2, 3]);
  x.requiresGrad = true;
  C.backward(x, C.tensor([0.5, -1]));
  assert.equal(await x.grad!.toArray(), [0.5, -1]);
});

s('an intermediate disposed before backward is reported, not treated as a leaf', () => {
  C.setBackend(cpu);
  const x = C.randn([2, 3], { seed: 1 });
  const w = C.randn([3, 2], { seed: 2 });
  w.requiresGrad = true;
  const h = C.matmul(x, w);
  const loss = C.sum(C.add(h, C.ones([2])));
  h.dispose();
  assert.throws(() => C.backward(loss), /input 0 of 'add', was disposed before backward/);
});

s('scopes keep tensors returned inside a Set or Map; assign to itself keeps the tensor', () => {
  C.setBackend(cpu);
  const set = C.scopeSync(() => new Set([C.ones([2])]));
  const map = C.scopeSync(() => new Map([[C.ones([1]), C.zeros([1])]]));
  assert.ok([...set].every((t) => !t.disposed));
  assert.ok([...map.keys(), ...map.values()].every((t) => !t.disposed));
  const p = C.ones([3]);
  p.assign(p);
  assert.not.ok(p.disposed);
});

s('noGrad records nothing', () => {
  C.setBackend(cpu);
  const x = C.tensor([1, 2]);
  x.requiresGrad = true;
  const y = C.noGrad(() => C.exp(x));
  assert.is(y.requiresGrad, false);
  assert.is(y.node, null);
  assert.throws(() => C.backward(y), /does not require grad/);
});

async function leakCheck(backend: C.Backend, steps: number) {
  C.setBackend(backend);
  const data = C.keep(C.randn([13, 5], { seed: 1 }));
  const labels = C.keep(C.randint([13], 0, 3, { seed: 2 }));
  const model = new MLP([5, 8, 3], 'tanh', { seed: 2 });
  const sgd = new SGD(model.parameters(), 0.1);
  const adam = new AdamW(model.parameters(), { lr: 0.01 });
  await C.scope(async () => C.backward(C.crossEntropy(model.forward(data), labels))); // first step creates grads
  model.zeroGrad();
  const live = backend.memory().liveBuffers;
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    losses.push(await C.scope(async () => {
      const loss = C.crossEntropy(model.forward(data), labels);
      C.backward(loss);
      (i % 2 ? adam : sgd).step();
      model.zeroGrad();
      return loss.item();
    }));
    assert.is(backend.memory().liveBuffers, live, `live buffers changed at step ${i}`);
  }
  assert.ok(losses[steps - 1]! < losses[0]!, `loss did not fall: ${losses}`);
  model.dispose();
  adam.dispose();
  data.dispose();
  labels.dispose();
}

s('no buffer leaks over MLP + SGD/AdamW steps', async () => {
  await leakCheck(new C.CpuBackend(), 6);
});

s('scope() disposes what it created across await, keeps what it returns', async () => {
  const backend = new C.CpuBackend();
  C.setBackend(backend);
  const before = backend.memory().liveBuffers;
  const kept = await C.scope(async () => {
    const a = C.ones([4]);
    await new Promise((r) => setTimeout(r, 1));
    const b = C.add(a, a);
    await b.read();
    return { b, extra: C.mulScalar(b, 2) };
  });
  assert.is(backend.memory().liveBuffers, before + 2);
  assert.equal(await kept.extra.toArray(), [4, 4, 4, 4]);
  kept.b.dispose();
  kept.extra.dispose();
  assert.is(backend.memory().liveBuffers, before);
  await C.scope(async () => { C.ones([3]); throw new Error('boom'); }).catch(() => {});
  assert.is(backend.memory().liveBuffers, before, 'a throwing scope leaked');
});

s('views share buffers until the last one is disposed', async () => {
  const backend = new C.CpuBackend();
  C.setBackend(backend);
  const a = C.arange(6, undefined, 1, { dtype: 'f32' });
  const r = C.reshape(a, [2, 3]);
  a.dispose();
  assert.equal(await r.toArray(), [0, 1, 2, 3, 4, 5]);
  r.dispose();
  assert.is(backend.memory().liveBuffers, 0);
  assert.throws(() => C.exp(r), /was disposed/);
});

s('clear errors for shapes, dtypes and backends', () => {
  C.setBackend(cpu);
  const a = C.zeros([3, 5]);
  const b = C.zeros([4, 2]);
  const i = C.zeros([3], { dtype: 'i32' });
  assert.throws(() => C.matmul(a, b), /matmul: \[3, 5\] x \[4, 2\]: inner dimensions differ \(5 vs 4\)/);
  assert.throws(() => C.add(a, b), /add: shapes \[3, 5\] and \[4, 2\] do not broadcast/);
  assert.throws(() => C.add(a, C.zeros([3, 5], { dtype: 'i32' })), /add: dtype mismatch, f32 \[3, 5\] and i32 \[3, 5\]/);
  assert.throws(() => C.exp(i), /exp: needs f32 inputs, got i32 \[3\]/);
  assert.throws(() => C.crossEntropy(a, C.zeros([3])), /crossEntropy: targets must be i32, got f32 \[3\]/);
  assert.throws(() => C.reshape(a, [4, 4]), /reshape: cannot reshape \[3, 5\] \(15 elements\) to \[4, 4\]/);
  assert.throws(() => C.slice(a, [0, 2], [3, 9]), /slice: range \[2, 9\) is out of bounds for axis 1 of \[3, 5\]/);
  assert.throws(() => C.sum(a, 2), /sum: axis 2 is out of range for rank 2/);
  assert.throws(() => C.add(a, C.zeros([3, 5], { backend: new C.CpuBackend() })), /add: inputs live on different backends/);
  assert.throws(() => C.tensor([1, 2, 3], [2, 2]), /tensor: 3 values do not fill shape \[2, 2\]/);
  assert.throws(() => C.tensor([1.5], [1], { dtype: 'i32' }), /value 1.5 at 0 is not an i32/);
});

s('backend selection by name and by preference', async () => {
  const lines: string[] = [];
  const b = await C.useBackend('cpu:f64', { log: (l) => lines.push(l) });
  assert.is(b.name, 'cpu:f64');
  assert.match(lines[0]!, /^backend: cpu:f64 \(reference IR interpreter, f64, subgroup size 32\) — as requested$/);
  await assert.not.throws(async () => C.useBackend(undefined, { log: () => {} }));
  try {
    await C.useBackend('nope');
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, /backend 'nope' is not registered \(registered: .*cpu/);
  }
});

s.run();

