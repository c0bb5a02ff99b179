// The GPT model of packages/nn: named parameters and state dicts, gradients of the attention and of a
// whole 1-layer GPT's CCE loss by gradcheck (f64 reference), the causal property, the tied classifier,
// GPT-2 init statistics, the loss at init, and a few optimizer steps that lower the loss (cpu, webgpu).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as C from '@cce/core';
import { AdamW, CausalSelfAttention, Dropout, GPT, type GPTConfig, gpt2Name, gpt2TensorSpecs, gptConfig, gptParameterCount } from '@cce/nn';
import { createGpujsBackend } from '@cce/backend-gpujs';
import { compareArrays } from '../support/conformance.js';
import { requireBackend, webgpuAvailable } from '../webgpu/support.js';

const s = suite('nn: gpt');
const cpu = new C.CpuBackend();

const toyConfig: GPTConfig = { vocabSize: 13, contextLength: 5, layers: 1, heads: 2, dim: 8 };

/** Random ids [B, T] in [0, V). */
const ids = (B: number, T: number, V: number, seed: number, backend: C.Backend = cpu) => C.randint([B, T], 0, V, { seed, backend });

/** Overwrites every parameter with N(0, std²) values (so that biases and LayerNorm terms matter). */
function randomize(model: { namedParameters(): Map<string, C.Tensor>; loadStateDict(s: Map<string, { shape: number[]; data: Float32Array }>): void }, std: number, seed: number) {
  const rng = C.mulberry32(seed);
  const state = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, p] of model.namedParameters()) {
    state.set(name, { shape: [...p.shape], data: Float32Array.from({ length: p.size }, () => (rng() * 2 - 1) * std * Math.sqrt(3)) });
  }
  model.loadStateDict(state);
}

const std = (v: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < v.length; i++) m += v[i]!;
  m /= v.length;
  let q = 0;
  for (let i = 0; i < v.length; i++) q += (v[i]! - m) ** 2;
  return Math.sqrt(q / v.length);
};

s('causal self-attention passes gradcheck (input and every parameter)', async () => {
  C.setBackend(cpu);
  const attn = new CausalSelfAttention(8, 2, { seed: 3 });
  randomize(attn, 0.5, 4);
  const params = attn.parameters();
  const x = C.randn([2, 5, 8], { seed: 5 });
  const r = await C.gradcheck((xv, ...ps) => attn.withParameters(ps, () => attn.forward(xv)), [x, ...params]);
  assert.is(r.checked, 2 * 5 * 8 + (8 * 24 + 24) + (8 * 8 + 8));
  assert.ok(r.ok, C.formatGradcheck(r));
  attn.dispose();
});

s('a whole 1-layer GPT loss (CCE, shift 1) passes gradcheck', async () => {
  C.setBackend(cpu);
  const model = new GPT(toyConfig, { seed: 7, loss: { filterEps: null } });
  randomize(model, 0.3, 8);
  const params = model.parameters();
  const tokens = ids(2, 5, 13, 9);
  const r = await C.gradcheck((...xs) => model.withParameters(xs.slice(0, -1), () => model.loss(xs[xs.length - 1]!)), [...params, tokens]);
  assert.is(r.checked, gptParameterCount(toyConfig));
  assert.ok(r.ok, C.formatGradcheck(r));
  model.dispose();
});

s('causal: changing a later token leaves earlier hidden states unchanged', async () => {
  C.setBackend(cpu);
  const model = new GPT({ vocabSize: 64, contextLength: 8, layers: 2, heads: 2, dim: 16 }, { seed: 1 });
  randomize(model, 0.3, 2);
  const a = Int32Array.from([5, 9, 1, 33, 7, 2, 60, 4]);
  const b = Int32Array.from(a);
  b[5] = 41;
  const [ha, hb] = await C.scope(async () => Promise.all([a, b].map((v) => model.hidden(C.tensor(v, [1, 8], { dtype: 'i32' })).read())));
  const d = 16;
  for (let i = 0; i < 5 * d; i++) assert.is(hb![i], ha![i], `position ${Math.floor(i / d)} changed`);
  let later = 0;
  for (let i = 5 * d; i < 8 * d; i++) later = Math.max(later, Math.abs(hb![i]! - ha![i]!));
  assert.ok(later > 1e-3, `positions 5.. did not change (${later})`);
  model.dispose();
});

s('the classifier is the token embedding (one tensor) and gets the classifier gradient', async () => {
  C.setBackend(cpu);
  const model = new GPT({ vocabSize: 16, contextLength: 4, layers: 1, heads: 1, dim: 8 }, { seed: 3 });
  assert.is(model.classifier, model.wte.weight);
  assert.is(model.parameters().filter((p) => p.shape[0] === 16).length, 1);
  await C.scope(async () => C.backward(model.loss(C.tensor(Int32Array.from([1, 2, 3, 1]), [1, 4], { dtype: 'i32' }))));
  const g = await model.wte.weight.grad!.read();
  // Row 9 appears in no input: its gradient comes from the classifier alone, so it is non-zero.
  let row9 = 0;
  for (let j = 0; j < 8; j++) row9 += Math.abs(g[9 * 8 + j]!);
  assert.ok(row9 > 0, 'no classifier gradient in the tied embedding');
  model.dispose();
});

s('micro: named parameters, their GPT-2 names and count', () => {
  C.setBackend(cpu);
  const cfg = gptConfig('micro', 100);
  assert.equal([cfg.layers, cfg.heads, cfg.dim, cfg.contextLength, cfg.batchSize, cfg.vocabSize], [2, 2, 64, 64, 8, 128]);
  const model = new GPT(cfg, { seed: 1 });
  const named = model.namedParameters();
  assert.is(named.size, 2 + 12 * 2 + 2);
  assert.equal([...named.keys()].slice(0, 4), ['wte.weight', 'wpe.weight', 'h.0.ln_1.weight', 'h.0.ln_1.bias']);
  assert.ok(named.has('h.1.attn.c_attn.weight') && named.has('h.1.mlp.c_proj.bias') && named.has('ln_f.weight'));
  const specs = gpt2TensorSpecs({ vocabSize: 128, nPositions: 64, nEmbd: 64, nLayer: 2, nHead: 2 });
  assert.equal([...named.keys()].map(gpt2Name), specs.map((x) => x.name));
  assert.equal([...named.values()].map((t) => [...t.shape]), specs.map((x) => x.shape));
  // By hand: wte 128*64 + wpe 64*64; per layer ln_1 128, c_attn 64*192 + 192, attn c_proj 64*64 + 64,
  // ln_2 128, c_fc 64*256 + 256, mlp c_proj 256*64 + 64; ln_f 128.
  const perLayer = 128 + (12288 + 192) + (4096 + 64) + 128 + (16384 + 256) + (16384 + 64);
  const expected = 8192 + 4096 + 2 * perLayer + 128;
  assert.is(expected, 112384);
  assert.is(model.parameters().reduce((n, p) => n + p.size, 0), expected);
  assert.is(gptParameterCount(cfg), expected);
  model.dispose();
});

s('train()/eval() reach every submodule; dropout is the identity in eval and seeded in training', async () => {
  C.setBackend(cpu);
  const model = new GPT({ ...toyConfig, dropout: 0.5 }, { seed: 1 });
  assert.ok(model.modules().every((m) => m.training));
  model.eval();
  assert.ok(model.modules().every((m) => !m.training));
  assert.ok(model.h[0]!.attn.attnDropout.training === false);
  model.train();
  assert.ok(model.h[0]!.mlp.dropout.training);
  const x = C.ones([4, 100]);
  const a = await new Dropout(0.5, 9).forward(x).toArray();
  const b = await new Dropout(0.5, 9).forward(x).toArray();
  assert.equal(a, b);
  assert.ok(a.every((v) => v === 0 || v === 2));
  const kept = a.filter((v) => v === 2).length;
  assert.ok(kept > 140 && kept < 260, `kept ${kept} of 400`);
  // The generators' positions restore the masks (resume).
  const dm = new GPT({ ...toyConfig, dropout: 0.2 }, { seed: 3 });
  const tokens = ids(1, 5, 13, 1);
  await C.scope(() => dm.loss(tokens).item());
  const state = dm.dropoutState();
  assert.is(state.length, 1 + 3); // embeddings; attention weights, attention output, MLP output
  assert.ok(state.every((v) => v === 1), `${state}`);
  const next = await C.scope(() => dm.loss(tokens).item());
  dm.setDropoutState(state);
  assert.is(await C.scope(() => dm.loss(tokens).item()), next);
  assert.throws(() => dm.setDropoutState([1]), /expected 4 non-negative integers/);
  dm.dispose();
  const off = new Dropout(0.5, 9).eval();
  assert.is(off.forward(x), x);
  model.dispose();
});

s('stateDict round trip, and clear errors for missing, extra, misshapen or mistyped entries', async () => {
  C.setBackend(cpu);
  const a = new GPT(toyConfig, { seed: 1 });
  const b = new GPT(toyConfig, { seed: 2 });
  const tokens = ids(2, 5, 13, 3);
  const la = await C.scope(() => a.loss(tokens).item());
  const lb = await C.scope(() => b.loss(tokens).item());
  assert.not.equal(la, lb);
  const data = await a.stateDictData();
  b.loadStateDict(data);
  assert.is(await C.scope(() => b.loss(tokens).item()), la);
  for (const [name, t] of b.stateDict()) assert.equal(Array.from(await t.read()), Array.from(data.get(name)!.data), name);
  // Tensors on the same backend are copied, not shared.
  const c = new GPT(toyConfig, { seed: 5 });
  c.loadStateDict(a.stateDict());
  assert.is.not(c.wte.weight, a.wte.weight);
  assert.is(await C.scope(() => c.loss(tokens).item()), la);

  const without = new Map(data);
  without.delete('h.0.attn.c_proj.bias');
  assert.throws(() => b.loadStateDict(without), /missing 'h\.0\.attn\.c_proj\.bias'/);
  assert.throws(() => b.loadStateDict(new Map([...data, ['lm_head.weight', data.get('wte.weight')!]])), /unexpected 'lm_head\.weight'/);
  const badShape = new Map(data);
  badShape.set('wpe.weight', { dtype: 'F32', shape: [4, 8], data: new Float32Array(32) });
  assert.throws(() => b.loadStateDict(badShape), /'wpe\.weight' has shape \[4, 8\], the parameter has \[5, 8\]/);
  const badType = new Map(data);
  badType.set('ln_f.bias', { dtype: 'I32', shape: [8], data: new Int32Array(8) });
  assert.throws(() => b.loadStateDict(badType), /'ln_f\.bias' is I32, the parameter is f32/);
  // Nothing was written by the refused loads.
  assert.is(await C.scope(() => b.loss(tokens).item()), la);
  for (const m of [a, b, c]) m.dispose();
});

s('GPT-2 init: std 0.02, residual projections 0.02 / sqrt(2 L), zero biases, LayerNorm 1 and 0', async () => {
  C.setBackend(cpu);
  const model = new GPT(gptConfig('micro', 512), { seed: 11 });
  const p = model.namedParameters();
  const sd = async (name: string) => std(await p.get(name)!.read());
  const near = (got: number, want: number, what: string) => assert.ok(Math.abs(got - want) < 0.04 * want, `${what}: std ${got}, want ${want}`);
  near(await sd('wte.weight'), 0.02, 'wte');
  near(await sd('h.0.mlp.c_fc.weight'), 0.02, 'c_fc');
  near(await sd('h.1.attn.c_attn.weight'), 0.02, 'c_attn');
  near(await sd('h.0.mlp.c_proj.weight'), 0.02 / Math.sqrt(4), 'mlp c_proj');
  near(await sd('h.1.attn.c_proj.weight'), 0.02 / Math.sqrt(4), 'attn c_proj');
  for (const [name, t] of p) {
    if (name.endsWith('.bias')) assert.ok((await t.toArray()).every((v) => v === 0), name);
    if (name.includes('ln_') && name.endsWith('.weight')) assert.ok((await t.toArray()).every((v) => v === 1), name);
  }
  // Seeded: the same seed gives the same weights, another seed others.
  const again = new GPT(gptConfig('micro', 512), { seed: 11 });
  const other = new GPT(gptConfig('micro', 512), { seed: 12 });
  assert.equal(Array.from(await again.h[1]!.mlp.c_fc.weight.read()), Array.from(await model.h[1]!.mlp.c_fc.weight.read()));
  assert.not.equal(Array.from(await other.wpe.weight.read()).slice(0, 8), Array.from(await model.wpe.weight.read()).slice(0, 8));
  // The loss at init on random ids is near log(V).
  const loss = await C.scope(() => model.loss(ids(2, 32, 512, 4)).item());
  assert.ok(Math.abs(loss - Math.log(512)) < 0.05, `loss ${loss}, log V ${Math.log(512)}`);
  const logits = await C.scope(async () => {
    const l = model.logits(ids(2, 10, 512, 5));
    return { shape: [...l.shape] };
  });
  assert.equal(logits.shape, [2, 512]);
  for (const m of [model, again, other]) m.dispose();
});

async function trainSteps(backend: C.Backend, steps: number): Promise<number[]> {
  const prev = C.getBackendOrNull();
  C.setBackend(backend);
  try {
    const model = new GPT({ vocabSize: 32, contextLength: 8, layers: 1, heads: 2, dim: 16 }, { seed: 1, backend });
    const opt = new AdamW(model.parameters(), { lr: 1e-2, weightDecay: 0 });
    const batch = C.keep(ids(4, 8, 32, 2, backend));
    const losses: number[] = [];
    let live = -1;
    for (let i = 0; i < steps; i++) {
      losses.push(await C.scope(async () => {
        const loss = model.loss(batch);
        C.backward(loss);
        opt.step();
        model.zeroGrad();
        return loss.item();
      }));
      // After the first step (which creates the optimizer's state), a step leaves no buffer behind.
      if (i === 1) live = backend.memory().liveBuffers;
      if (i > 1) assert.is(backend.memory().liveBuffers, live, `live buffers changed at step ${i}`);
    }
    opt.dispose();
    model.dispose();
    batch.dispose();
    return losses;
  } finally {
    C.setBackend(prev);
  }
}

s('logits of the last position agree with the loss; the configs and their sizes', async () => {
  C.setBackend(cpu);
  const model = new GPT({ vocabSize: 16, contextLength: 6, layers: 1, heads: 2, dim: 8 }, { seed: 4 });
  randomize(model, 0.3, 5);
  const seq = Int32Array.from([3, 11, 7, 2]);
  // With shift 1 the loss over [a, b] is -log softmax(logits(a))[b]: one predicted token.
  for (let t = 1; t < 4; t++) {
    const [loss, lp] = await C.scope(async () => {
      const l = model.loss(C.tensor(seq.slice(t - 1, t + 1), [1, 2], { dtype: 'i32' }));
      const logits = model.logits(C.tensor(seq.slice(t - 1, t), [1, 1], { dtype: 'i32' }));
      return [await l.item(), await C.logSoftmax(logits, -1).toArray()];
    });
    assert.ok(Math.abs(loss + lp![seq[t]!]!) < 1e-5, `loss ${loss} vs -log p ${-lp![seq[t]!]!}`);
  }
  // logits(ids) uses the last position only: earlier tokens change it through attention.
  const l1 = await C.scope(() => model.logits(C.tensor(Int32Array.from([1, 2, 3]), [1, 3], { dtype: 'i32' })).toArray());
  const l2 = await C.scope(() => model.logits(C.tensor(Int32Array.from([9, 2, 3]), [1, 3], { dtype: 'i32' })).toArray());
  assert.equal(l1.length, 16);
  assert.not.equal(l1, l2);
  assert.throws(() => model.loss(C.tensor(new Int32Array(7), [1, 7], { dtype: 'i32' })), /sequence length 7 is outside \[1, 6\]/);
  assert.throws(() => model.hidden(C.tensor(new Float32Array(3), [1, 3])), /ids must be i32 \[B, T\]/);
  model.dispose();
  // tiny with GPT-2's BPE: 50257 ids padded to 50304, 16.1M parameters (as the PyTorch reference).
  const tiny = gptConfig('tiny', 50257);
  assert.equal([tiny.layers, tiny.heads, tiny.dim, tiny.contextLength, tiny.batchSize, tiny.vocabSize], [4, 4, 256, 128, 16, 50304]);
  assert.is(gptParameterCount(tiny), 50304 * 256 + 128 * 256 + 4 * (12 * 256 * 256 + 13 * 256) + 2 * 256);
  assert.is(Math.round(gptParameterCount(tiny) / 1e5) / 10, 16.1);
  const small = gptConfig('small', 50257);
  assert.equal([small.layers, small.heads, small.dim, small.contextLength, small.batchSize], [6, 6, 384, 256, 32]);
  assert.throws(() => gptConfig('huge' as 'tiny', 10), /unknown config 'huge'/);
  assert.throws(() => new GPT({ vocabSize: 16, contextLength: 4, layers: 1, heads: 3, dim: 8 }), /not a multiple of heads 3/);
});

/** The toy GPT's loss and every parameter's gradient on `backend`, from fixed weights and ids. */
async function lossAndGrads(backend: C.Backend, attention: 'composed' | 'fused' = 'composed'): Promise<{ loss: number; grads: Map<string, Float32Array | Float64Array | Int32Array> }> {
  const prev = C.getBackendOrNull();
  C.setBackend(backend);
  try {
    const model = new GPT({ ...toyConfig, attention }, { seed: 7, backend });
    randomize(model, 0.3, 8);
    const out = await C.scope(async () => {
      const loss = model.loss(C.tensor(Int32Array.from([1, 5, 12, 0, 7, 3, 3, 9, 11, 2]), [2, 5], { dtype: 'i32' }));
      C.backward(loss);
      const grads = new Map<string, Float32Array | Float64Array | Int32Array>();
      for (const [name, p] of model.namedParameters()) grads.set(name, await p.grad!.read());
      return { loss: await loss.item(), grads };
    });
    model.dispose();
    return out;
  } finally {
    C.setBackend(prev);
  }
}

async function checkAgainstReference(backend: C.Backend, what: string, attention: 'composed' | 'fused' = 'composed') {
  const want = await lossAndGrads(new C.CpuBackend({ precision: 'f64' }));
  const got = await lossAndGrads(backend, attention);
  assert.ok(Math.abs(got.loss - want.loss) <= 1e-5 * Math.abs(want.loss), `${what}: loss ${got.loss} vs ${want.loss}`);
  for (const [name, g] of want.grads) compareArrays(`d ${name} on ${what}`, got.grads.get(name)!, g, 1e-3, 1e-5);
}

s('the toy GPT with fused attention gives the composed model\'s loss and gradients (f64 reference, both variants)', async () => {
  const want = await lossAndGrads(new C.CpuBackend({ precision: 'f64' }));
  const got = await lossAndGrads(new C.CpuBackend({ precision: 'f64' }), 'fused');
  assert.ok(Math.abs(got.loss - want.loss) <= 1e-12 * Math.abs(want.loss), `loss ${got.loss} vs ${want.loss}`);
  for (const [name, g] of want.grads) compareArrays(`d ${name}, fused`, got.grads.get(name)!, g, 1e-10, 1e-12);
  await checkAgainstReference(await createGpujsBackend('webasm'), 'gpujs:webasm, fused (elements variant)', 'fused');
  assert.throws(() => new GPT({ ...toyConfig, attention: 'fused', dropout: 0.1 }), /fused attention has no attention dropout/);
});

s('the toy GPT\'s loss and gradients on gpujs:webasm match the f64 reference', async () => {
  const backend = await createGpujsBackend('webasm');
  try {
    await checkAgainstReference(backend, 'gpujs:webasm');
  } finally {
    backend.destroy();
  }
});

s('AdamW steps on a repeated tiny batch lower the loss (cpu)', async () => {
  const losses = await trainSteps(cpu, 25);
  assert.ok(losses.every(Number.isFinite), `${losses}`);
  assert.ok(losses[losses.length - 1]! < losses[0]! - 0.5, `loss did not fall: ${losses.map((v) => v.toFixed(3))}`);
});

s.run();

if (await webgpuAvailable('nn: gpt')) {
  const w = suite('nn: gpt on webgpu');
  w('AdamW steps on a repeated tiny batch lower the loss (webgpu), as on cpu', async () => {
    const backend = await requireBackend();
    const losses = await trainSteps(backend, 25);
    const ref = await trainSteps(cpu, 3);
    assert.ok(Math.abs(losses[0]! - ref[0]!) < 1e-4, `first loss ${losses[0]} vs cpu ${ref[0]}`);
    assert.ok(losses[losses.length - 1]! < losses[0]! - 0.5, `loss did not fall: ${losses.map((v) => v.toFixed(3))}`);
  });
  w('the toy GPT\'s loss and gradients on webgpu match the f64 reference', async () => {
    await checkAgainstReference(await requireBackend(), 'webgpu');
    await checkAgainstReference(await requireBackend(), 'webgpu, fused attention (rows variant)', 'fused');
  });
  w.run();
}
