// Tensors larger than one storage binding: every op that goes by binding windows, on the f64 reference
// with 4 KiB bindings (1024 elements), against the same op on a backend without the cap; and a GPT whose
// tied embedding is past one binding trained under the cap as without it.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as C from '@cce/core';
import { AdamW, GPT } from '@cce/nn';

const CAP = 4096;
const capped = new C.CpuBackend({ precision: 'f64', maxStorageBufferBindingSize: CAP });
const free = new C.CpuBackend({ precision: 'f64' });

// 301 x 7 = 2107 elements: three element windows, each cutting a row; gather and scatterAdd take windows
// of 128 rows (896 elements, the largest multiple of lcm(7, 64) that fits).
const V = 301;
const D = 7;
const randomData = (n: number, seed: number) => {
  const rng = C.mulberry32(seed);
  return Array.from({ length: n }, () => rng() * 2 - 1);
};
const randomIds = (n: number, rows: number, seed: number) => {
  const rng = C.mulberry32(seed);
  // Ids at both ends of every window, and random ones.
  const edges = [0, 127, 128, 255, 256, rows - 1].filter((v) => v < rows);
  return Int32Array.from({ length: n }, (_, i) => (i < edges.length ? edges[i]! : Math.floor(rng() * rows)));
};

/** Runs `fn` on tensors of `inputs` on both backends; the results must agree exactly. */
async function agree(name: string, inputs: { data: ArrayLike<number>; shape: number[]; dtype?: C.DType }[], fn: (ts: C.Tensor[], be: C.Backend) => C.Tensor) {
  const run = (be: C.Backend) => C.scope(async () => {
    const ts = inputs.map((x) => C.tensor(x.data, x.shape, { dtype: x.dtype ?? 'f32', backend: be }));
    const out = fn(ts, be);
    return { shape: out.shape, values: await out.read() };
  });
  const [got, want] = [await run(capped), await run(free)];
  assert.equal(got.shape, want.shape, `${name}: shape`);
  for (let i = 0; i < want.values.length; i++) {
    if (!Object.is(got.values[i], want.values[i])) throw new Error(`${name}: element ${i} is ${got.values[i]}, expected ${want.values[i]}`);
  }
}

const s = suite('big tensors: ops through binding windows');
const table = { data: randomData(V * D, 1), shape: [V, D] };

s('the test sizes need windows', () => {
  assert.ok(V * D * 4 > CAP);
  assert.equal(C.bindingWindows('t', capped, V * D).map((w) => w.length), [1024, 1024, 59]);
  assert.equal(C.bindingWindows('t', capped, V * D, D).map((w) => w.length), [896, 896, 315]);
});

s('gather of f32 and i32 tables (rows in every window, repeated ids)', async () => {
  const ids = { data: randomIds(40, V, 2), shape: [5, 8], dtype: 'i32' as const };
  await agree('gather f32', [table, ids], ([t, i]) => C.gather(t!, i!));
  const intTable = { data: Array.from({ length: V * D }, (_, i) => i * 3 - 7), shape: [V, D], dtype: 'i32' as const };
  await agree('gather i32', [intTable, ids], ([t, i]) => C.gather(t!, i!));
});

s('gather of a device-computed id out of range gives a NaN row', async () => {
  const got = await C.scope(async () => {
    const t = C.tensor(table.data, table.shape, { backend: capped });
    const ids = C.cast(C.tensor([3, V + 2, 200], [3], { backend: capped }), 'i32'); // no host values
    return C.gather(t, ids).read();
  });
  assert.ok(got.slice(D, 2 * D).every(Number.isNaN));
  assert.equal(Array.from(got.slice(0, D)), table.data.slice(3 * D, 4 * D));
  assert.equal(Array.from(got.slice(2 * D)), table.data.slice(200 * D, 201 * D));
});

s('scatterAdd into rows past one binding', async () => {
  const ids = { data: randomIds(50, V, 3), shape: [50], dtype: 'i32' as const };
  await agree('scatterAdd', [{ data: randomData(50 * D, 4), shape: [50, D] }, ids], ([src, i]) => C.scatterAdd(src!, i!, V));
});

s('elementwise ops and fills, element windows cutting rows', async () => {
  const other = { data: randomData(V * D, 5), shape: [V, D] };
  await agree('add', [table, other], ([a, b]) => C.add(a!, b!));
  await agree('mul', [table, other], ([a, b]) => C.mul(a!, b!));
  await agree('mulScalar', [table], ([a]) => C.mulScalar(a!, 0.37));
  await agree('gelu', [table], ([a]) => C.gelu(a!));
  await agree('zeros', [], (_, be) => C.zeros([V, D], { backend: be }));
  await agree('full', [], (_, be) => C.full([V, D], 2.5, { backend: be }));
});

s('sum and max over everything and over rows', async () => {
  await agree('sum all', [table], ([a]) => C.sum(a!));
  await agree('max all', [table], ([a]) => C.max(a!));
  await agree('sum rows', [table], ([a]) => C.sum(a!, 1));
  await agree('max rows', [table], ([a]) => C.max(a!, -1));
});

s('gradients: gather twice, accumulated into the table', async () => {
  const ids = { data: randomIds(30, V, 6), shape: [30], dtype: 'i32' as const };
  await agree('gather backward', [table, ids], ([t, i]) => {
    const p = C.keep(t!);
    p.requiresGrad = true;
    const y = C.add(C.gather(p, i!), C.mulScalar(C.gather(p, i!), 3));
    C.backward(C.sum(C.mul(y, y)));
    const g = p.grad!;
    p.grad = null;
    p.dispose();
    return g;
  });
});

s('a backend without binding ranges refuses, naming the op and the sizes', () => {
  const be = new C.CpuBackend({ precision: 'f64', maxStorageBufferBindingSize: CAP });
  (be as { capabilities: C.Capabilities }).capabilities = { ...be.capabilities, bindingRanges: false };
  C.scope(() => {
    const t = C.tensor(table.data, table.shape, { backend: be });
    const ids = C.tensor([1, 2], [2], { dtype: 'i32', backend: be });
    assert.throws(() => C.gather(t, ids), /gather: a tensor of 2107 elements \(8428 bytes\) exceeds the largest storage binding \(4096 bytes\)/);
    assert.throws(() => C.add(t, t), /add: a tensor of 2107 elements/);
    assert.throws(() => C.zeros([V, D], { backend: be }), /zeros: a tensor of 2107 elements/);
  });
});

s.run();

const g = suite('big tensors: a GPT whose embedding is past one binding');

async function train(be: C.Backend) {
  const model = new GPT({ vocabSize: 130, contextLength: 8, layers: 1, heads: 2, dim: 16 }, { seed: 1, backend: be });
  const opt = new AdamW(model.parameters(), { lr: 1e-2, maxGradNorm: 1 });
  const losses: number[] = [];
  for (let i = 0; i < 3; i++) {
    losses.push(await C.scope(async () => {
      const ids = C.tensor(Array.from({ length: 16 }, (_, j) => (j * 37 + i * 11) % 130), [2, 8], { dtype: 'i32', backend: be });
      const loss = model.loss(ids);
      C.backward(loss);
      opt.step({ lr: 1e-2 });
      model.zeroGrad();
      return loss.item();
    }));
  }
  const weights = new Map<string, Float64Array>();
  for (const [name, p] of model.namedParameters()) weights.set(name, Float64Array.from(await p.read()));
  const saved = await model.stateDictData();
  opt.dispose();
  model.dispose();
  return { losses, weights, saved };
}

g('3 AdamW steps under the cap equal the uncapped run (f64, 1e-12)', async () => {
  const [got, want] = [await train(capped), await train(free)];
  assert.ok(130 * 16 * 4 > CAP);
  got.losses.forEach((l, i) => assert.ok(Math.abs(l - want.losses[i]!) <= 1e-12, `loss ${i}: ${l} vs ${want.losses[i]}`));
  for (const [name, w] of want.weights) {
    const v = got.weights.get(name)!;
    for (let i = 0; i < w.length; i++) assert.ok(Math.abs(v[i]! - w[i]!) <= 1e-12, `${name}[${i}]: ${v[i]} vs ${w[i]}`);
  }
  assert.is(got.saved.get('wte.weight')!.data.length, 130 * 16);
});

g.run();
