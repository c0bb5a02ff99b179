// The optimizers of issue 10: AdamW against a float64 reference of the same update (weight decay on 2-D
// parameters only, bias correction, per-step lr), global gradient-norm clipping on the device, no host
// read inside a step, the state round trip, parameters larger than one storage binding (windows), and
// the warmup + cosine schedule against values computed by hand.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as C from '@cce/core';
import type { Backend, Tensor } from '@cce/core';
import { AdamW, SGD, clipGradNorm, gradNorm, lrAt } from '@cce/nn';
import { createGpujsBackend } from '@cce/backend-gpujs';
import { requireBackend, webgpuAvailable } from '../webgpu/support.js';

interface Hyper { lr: number[]; beta1: number; beta2: number; eps: number; weightDecay: number; maxGradNorm?: number }

/** Plain-JS float64 AdamW (PyTorch's update), decay on rank >= 2, optional global clipping. */
function referenceAdamW(shapes: number[][], w0: number[][], grads: number[][][], h: Hyper): number[][] {
  const w = w0.map((x) => [...x]);
  const m = w0.map((x) => x.map(() => 0));
  const v = w0.map((x) => x.map(() => 0));
  grads.forEach((gs, step) => {
    const t = step + 1;
    let scale = 1;
    if (h.maxGradNorm !== undefined) {
      const norm = Math.sqrt(gs.flat().reduce((a, g) => a + g * g, 0));
      scale = Math.min(1, h.maxGradNorm / (norm + 1e-6));
    }
    const c1 = 1 - h.beta1 ** t;
    const c2 = 1 - h.beta2 ** t;
    const lr = h.lr[step]!;
    shapes.forEach((shape, p) => {
      const wd = shape.length >= 2 ? h.weightDecay : 0;
      for (let i = 0; i < w[p]!.length; i++) {
        const g = gs[p]![i]! * scale;
        m[p]![i] = h.beta1 * m[p]![i]! + (1 - h.beta1) * g;
        v[p]![i] = h.beta2 * v[p]![i]! + (1 - h.beta2) * g * g;
        w[p]![i] = w[p]![i]! - lr * wd * w[p]![i]! - (lr * (m[p]![i]! / c1)) / (Math.sqrt(v[p]![i]! / c2) + h.eps);
      }
    });
  });
  return w;
}

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
function hostData(shapes: number[][], steps: number, seed: number, gradScale = 1) {
  const rng = C.mulberry32(seed);
  const w0 = shapes.map((s) => Array.from({ length: size(s) }, () => rng() * 2 - 1));
  const grads = Array.from({ length: steps }, () => shapes.map((s) => Array.from({ length: size(s) }, () => (rng() * 2 - 1) * gradScale)));
  return { w0, grads };
}

const setGrad = (p: Tensor, g: number[]) => {
  p.grad?.dispose();
  p.grad = C.keep(C.tensor(g, p.shape, { backend: p.backend }));
};

/** Runs AdamW on `be` for the given data; returns the final weights (host) and the optimizer. */
async function runAdamW(be: Backend, shapes: number[][], w0: number[][], grads: number[][][], h: Hyper) {
  const params = shapes.map((s, i) => C.keep(C.tensor(w0[i]!, s, { backend: be })));
  const opt = new AdamW(params, { lr: h.lr[0], beta1: h.beta1, beta2: h.beta2, eps: h.eps, weightDecay: h.weightDecay, maxGradNorm: h.maxGradNorm });
  for (let step = 0; step < grads.length; step++) {
    params.forEach((p, i) => setGrad(p, grads[step]![i]!));
    opt.step({ lr: h.lr[step] });
  }
  const out = await Promise.all(params.map(async (p) => Array.from(await p.read())));
  const norm = opt.gradNorm ? await opt.gradNorm.item() : null;
  opt.dispose();
  for (const p of params) p.dispose();
  return { out, norm };
}

function close(actual: number[][], expected: number[][], atol: number, rtol: number, what: string) {
  let worst = 0;
  let where = '';
  actual.forEach((a, p) => a.forEach((x, i) => {
    const e = expected[p]![i]!;
    const err = Math.abs(x - e) - rtol * Math.abs(e);
    if (!(err <= worst)) {
      worst = err;
      where = `param ${p}[${i}]: ${x} vs ${e}`;
    }
  }));
  assert.ok(worst <= atol, `${what}: worst ${where} (atol ${atol}, rtol ${rtol})`);
}

/** Counts dispatches by kernel name from now on. */
function countDispatches(be: Backend): Map<string, number> {
  const names = new Map<string, number>();
  const dispatch = be.dispatch.bind(be);
  be.dispatch = (exe, bindings, grid) => {
    names.set(exe.kernel.name, (names.get(exe.kernel.name) ?? 0) + 1);
    dispatch(exe, bindings, grid);
  };
  return names;
}

const SHAPES = [[5, 7], [7], [3, 2, 4], [1]];
const HYPER: Hyper = { lr: [1e-2, 2e-2, 3e-2, 2e-2, 1e-2, 5e-3], beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 };

const s = suite('nn optim: AdamW, clipping, state, windows (cpu)');
const f64 = () => new C.CpuBackend({ precision: 'f64' });

s('AdamW updates in place: parameters and moments keep their buffers, so steps allocate nothing', async () => {
  const be = f64();
  const params = SHAPES.map((sh) => C.keep(C.randn(sh, { backend: be, seed: 3 })));
  const opt = new AdamW(params, { lr: 1e-2, maxGradNorm: 1 });
  params.forEach((p, i) => setGrad(p, Array.from({ length: p.size }, (_, j) => Math.sin(i + j))));
  const buffers = () => [...params, ...opt.state().m, ...opt.state().v].map((t) => t.buffer);
  const before = buffers();
  opt.step();
  const live = be.memory().liveBuffers;
  opt.step();
  opt.step();
  assert.equal(buffers(), before);
  assert.is(be.memory().liveBuffers, live, 'a step after the first leaves no new buffer behind');
  opt.dispose();
  for (const p of params) p.dispose();
});

s('AdamW matches a float64 reference over 6 steps (decay on 2-D only, per-step lr)', async () => {
  const { w0, grads } = hostData(SHAPES, 6, 1);
  const be = f64();
  const names = countDispatches(be);
  const { out } = await runAdamW(be, SHAPES, w0, grads, HYPER);
  close(out, referenceAdamW(SHAPES, w0, grads, HYPER), 1e-12, 0, 'cpu f64');
  // One fused kernel per parameter and step, nothing else in step() without clipping.
  assert.is(names.get('nn_adamw_inplace'), 6 * SHAPES.length);
  assert.is(names.get('nn_adamw_m'), undefined);
  // The reference with decay everywhere differs: the 1-D parameters must not have decayed.
  const all = referenceAdamW(SHAPES.map((sh) => (sh.length < 2 ? [...sh, 1] : sh)), w0, grads, HYPER);
  assert.ok(Math.abs(all[1]![0]! - out[1]![0]!) > 1e-6, 'a 1-D parameter was decayed');
});

s('AdamW with maxGradNorm clips on the device and exposes the norm', async () => {
  const { w0, grads } = hostData(SHAPES, 4, 2, 3);
  const h = { ...HYPER, maxGradNorm: 1 };
  const { out, norm } = await runAdamW(f64(), SHAPES, w0, grads, h);
  close(out, referenceAdamW(SHAPES, w0, grads, h), 1e-12, 0, 'clipped');
  const last = Math.sqrt(grads[3]!.flat().reduce((a, g) => a + g * g, 0));
  assert.ok(Math.abs(norm! - last) < 1e-12 * last, `norm ${norm} vs ${last}`);
  // Without clipping the result is different (the test can fail).
  const { out: unclipped } = await runAdamW(f64(), SHAPES, w0, grads, { ...HYPER, lr: HYPER.lr.map((x) => x) });
  assert.ok(Math.abs(unclipped[0]![0]! - out[0]![0]!) > 1e-9 || Math.abs(unclipped[2]![3]! - out[2]![3]!) > 1e-9);
});

s('parameter groups and a decay predicate choose the weight decay', async () => {
  const be = f64();
  const a = C.keep(C.tensor([1, 2, 3, 4], [2, 2], { backend: be }));
  const b = C.keep(C.tensor([1, 2], [2], { backend: be }));
  assert.equal(new AdamW([a, b], { weightDecay: 0.1 }).decays, [0.1, 0]);
  assert.equal(new AdamW([a, b], { weightDecay: 0.1, decay: () => true }).decays, [0.1, 0.1]);
  assert.equal(new AdamW([{ params: [a] }, { params: [b], weightDecay: 0.5 }], { weightDecay: 0.2 }).decays, [0.2, 0.5]);
});

s('clipGradNorm: the norm matches the host; gradients scaled only above maxNorm', async () => {
  const be = f64();
  const { w0, grads } = hostData(SHAPES, 1, 3, 2);
  const params = SHAPES.map((sh, i) => C.keep(C.tensor(w0[i]!, sh, { backend: be })));
  params.forEach((p, i) => setGrad(p, grads[0]![i]!));
  const host = Math.sqrt(grads[0]!.flat().reduce((a, g) => a + g * g, 0));
  assert.ok(host > 1.5, `fixture norm ${host}`);
  // Below the norm: scaled by maxNorm / (norm + 1e-6).
  const norm = clipGradNorm(params, 1.5);
  assert.ok(Math.abs((await norm.item()) - host) < 1e-12 * host);
  const f = 1.5 / (host + 1e-6);
  for (let i = 0; i < params.length; i++) close([Array.from(await params[i]!.grad!.read())], [grads[0]![i]!.map((g) => g * f)], 1e-14, 1e-13, 'scaled');
  // Above the norm: unchanged, factor exactly 1.
  const again = gradNorm(params, 10);
  assert.is(await again.scale.item(), 1);
  const n2 = clipGradNorm(params, 10);
  assert.ok(Math.abs((await n2.item()) - 1.5 * host / (host + 1e-6)) < 1e-12);
  for (let i = 0; i < params.length; i++) close([Array.from(await params[i]!.grad!.read())], [grads[0]![i]!.map((g) => g * f)], 1e-14, 1e-13, 'unchanged');
  for (const t of [norm, n2, again.norm, again.scale, ...params]) t.dispose();
});

s('no host read inside AdamW.step or SGD.step (clipping included)', async () => {
  const be = f64();
  const { w0, grads } = hostData(SHAPES, 1, 4);
  const params = SHAPES.map((sh, i) => C.keep(C.tensor(w0[i]!, sh, { backend: be })));
  params.forEach((p, i) => setGrad(p, grads[0]![i]!));
  const opt = new AdamW(params, { maxGradNorm: 0.5 });
  const sgd = new SGD(params, 0.1);
  let reads = 0;
  const read = be.read.bind(be);
  be.read = async (buf) => {
    reads++;
    return read(buf);
  };
  try {
    opt.step({ lr: 1e-3 });
    opt.step();
    sgd.step();
    assert.is(reads, 0);
    await opt.gradNorm!.item();
    assert.is(reads, 1, 'the read counter counts');
  } finally {
    be.read = read;
    opt.dispose();
    for (const p of params) p.dispose();
  }
});

s('state round trip: save, a new optimizer loads it, the next step is identical', async () => {
  const be = f64();
  const { w0, grads } = hostData(SHAPES, 3, 5);
  const make = () => SHAPES.map((sh, i) => C.keep(C.tensor(w0[i]!, sh, { backend: be })));
  const pa = make();
  const a = new AdamW(pa, { lr: 1e-2, beta2: 0.99, weightDecay: 0.1 });
  for (let st = 0; st < 2; st++) {
    pa.forEach((p, i) => setGrad(p, grads[st]![i]!));
    a.step();
  }
  const saved = await a.hostState();
  assert.is(saved.step, 2);
  const weights = await Promise.all(pa.map((p) => p.read()));
  for (const from of ['host', 'tensors'] as const) {
    const pb = SHAPES.map((sh, i) => C.keep(C.tensor(weights[i]!, sh, { backend: be })));
    const b = new AdamW(pb, { lr: 1e-2, beta2: 0.99, weightDecay: 0.1 });
    b.loadState(from === 'host' ? saved : a.state());
    assert.is(b.stepCount, 2);
    pb.forEach((p, i) => setGrad(p, grads[2]![i]!));
    b.step();
    if (from === 'tensors') {
      pa.forEach((p, i) => setGrad(p, grads[2]![i]!));
      a.step();
    }
    const wa = await Promise.all(pa.map(async (p) => Array.from(await p.read())));
    const wb = await Promise.all(pb.map(async (p) => Array.from(await p.read())));
    if (from === 'tensors') assert.equal(wb, wa);
    else {
      // a has not stepped a third time yet: compare with the reference of all three steps.
      close(wb, referenceAdamW(SHAPES, w0, grads, { ...HYPER, lr: [1e-2, 1e-2, 1e-2], weightDecay: 0.1 }), 1e-12, 0, 'resumed');
    }
    b.dispose();
    for (const p of pb) p.dispose();
  }
  a.dispose();
  for (const p of pa) p.dispose();
});

s('loadState refuses mismatched state with clear errors', () => {
  const be = f64();
  const p = [C.keep(C.tensor([1, 2, 3, 4], [2, 2], { backend: be })), C.keep(C.tensor([1, 2], [2], { backend: be }))];
  const opt = new AdamW(p);
  const ok = { step: 1, m: [[0, 0, 0, 0], [0, 0]], v: [[0, 0, 0, 0], [0, 0]] };
  assert.throws(() => opt.loadState({ ...ok, m: [[0, 0, 0, 0]] }), /m has 1 entries for 2 parameters/);
  assert.throws(() => opt.loadState({ ...ok, v: [[0, 0, 0], [0, 0]] }), /v\[0\] has 3 values, the parameter \[2,2\] has 4/);
  assert.throws(() => opt.loadState({ ...ok, m: [C.tensor([0, 0, 0, 0], [4], { backend: be }), [0, 0]] }), /m\[0\] is f32 \[4\], the parameter is f32 \[2,2\]/);
  assert.throws(() => opt.loadState({ ...ok, step: -1 }), /step must be a non-negative integer/);
  opt.loadState(ok);
  assert.is(opt.stepCount, 1);
  opt.dispose();
});

s('the map-only path (three map kernels per parameter) gives the same update', async () => {
  const be = f64();
  (be as { capabilities: C.Capabilities }).capabilities = { ...be.capabilities, mapOnly: true, bindingRanges: false };
  const names = countDispatches(be);
  const { w0, grads } = hostData(SHAPES, 4, 8, 3);
  const h = { ...HYPER, lr: HYPER.lr.slice(0, 4), maxGradNorm: 1 };
  const { out, norm } = await runAdamW(be, SHAPES, w0, grads, h);
  close(out, referenceAdamW(SHAPES, w0, grads, h), 1e-12, 0, 'map-only');
  assert.is(names.get('nn_adamw_inplace'), undefined);
  for (const k of ['nn_adamw_m', 'nn_adamw_v', 'nn_adamw_w']) assert.is(names.get(k), 4 * SHAPES.length, k);
  const last = Math.sqrt(grads[3]!.flat().reduce((a, g) => a + g * g, 0));
  assert.ok(Math.abs(norm! - last) < 1e-12 * last);
});

s('gpu.js (webasm): AdamW with clipping within f32 tolerance of the reference', async () => {
  const be = await createGpujsBackend('webasm');
  const { w0, grads } = hostData(SHAPES, 4, 9, 3);
  const h = { ...HYPER, lr: HYPER.lr.slice(0, 4), maxGradNorm: 1 };
  const { out, norm } = await runAdamW(be, SHAPES, w0, grads, h);
  close(out, referenceAdamW(SHAPES, w0, grads, h), 2e-5, 1e-5, 'gpujs');
  const last = Math.sqrt(grads[3]!.flat().reduce((a, g) => a + g * g, 0));
  assert.ok(Math.abs(norm! - last) < 1e-5 * last);
});

s('parameters larger than one storage binding are updated through windows', async () => {
  // 1 KiB bindings: 256 elements; a [20, 30] weight takes 3 windows.
  const be = new C.CpuBackend({ precision: 'f64', maxStorageBufferBindingSize: 1024 });
  const shapes = [[20, 30], [30]];
  const { w0, grads } = hostData(shapes, 3, 6, 2);
  const h = { ...HYPER, lr: [1e-2, 2e-2, 1e-2], maxGradNorm: 5 };
  const { out, norm } = await runAdamW(be, shapes, w0, grads, h);
  close(out, referenceAdamW(shapes, w0, grads, h), 1e-12, 0, 'windowed');
  const last = Math.sqrt(grads[2]!.flat().reduce((a, g) => a + g * g, 0));
  assert.ok(Math.abs(norm! - last) < 1e-12 * last);
  // SGD through windows too.
  const p = C.keep(C.tensor(w0[0]!, shapes[0]!, { backend: be }));
  setGrad(p, grads[0]![0]!);
  new SGD([p], 0.5).step();
  close([Array.from(await p.read())], [w0[0]!.map((w, i) => w - 0.5 * grads[0]![0]![i]!)], 1e-15, 0, 'sgd windowed');
  p.dispose();
});

s.run();

const sch = suite('nn schedule: lrAt (warmup then cosine)');
const S = { warmupSteps: 10, totalSteps: 100, maxLr: 1e-3, minLr: 1e-4 };
const near = (a: number, b: number) => assert.ok(Math.abs(a - b) <= 1e-15, `${a} vs ${b}`);

sch('warmup start and end, mid-cosine, the end', () => {
  near(lrAt(0, S), 1e-4); // 1e-3 * 1 / 10
  near(lrAt(4, S), 5e-4);
  near(lrAt(9, S), 1e-3); // warmup's last step reaches maxLr
  near(lrAt(10, S), 1e-3); // cosine at t = 0
  near(lrAt(25, S), 9.397114317029974e-4); // t = 1/6: 1e-4 + 9e-4 * (1 + cos(pi/6)) / 2
  near(lrAt(55, S), 5.5e-4); // t = 1/2: halfway
  assert.ok(Math.abs(lrAt(99, S) - 1.00274127841e-4) < 1e-15); // t = 89/90: 1e-4 + 9e-4 * (1 - cos(pi/90)) / 2
  near(lrAt(100, S), 1e-4);
  near(lrAt(5000, S), 1e-4);
  near(lrAt(0, { ...S, warmupSteps: 0 }), 1e-3);
});

sch('bad schedules and steps are refused', () => {
  assert.throws(() => lrAt(-1, S), /step must be a non-negative integer/);
  assert.throws(() => lrAt(1.5, S), /step must be a non-negative integer/);
  assert.throws(() => lrAt(0, { ...S, totalSteps: 5 }), /totalSteps must be an integer >= warmupSteps/);
  assert.throws(() => lrAt(0, { ...S, minLr: 2e-3 }), /minLr <= maxLr/);
});

sch.run();

if (await webgpuAvailable('nn optim')) {
  const w = suite('nn optim: AdamW on webgpu');
  w('AdamW with clipping matches the float64 reference within f32 tolerance; no read in step', async () => {
    const be = await requireBackend();
    const { w0, grads } = hostData(SHAPES, 6, 7, 2);
    const h = { ...HYPER, maxGradNorm: 1 };
    let reads = 0;
    const read = be.read.bind(be);
    const params = SHAPES.map((sh, i) => C.keep(C.tensor(w0[i]!, sh, { backend: be })));
    const opt = new AdamW(params, { lr: h.lr[0], beta1: h.beta1, beta2: h.beta2, eps: h.eps, weightDecay: h.weightDecay, maxGradNorm: 1 });
    try {
      for (let st = 0; st < 6; st++) {
        params.forEach((p, i) => setGrad(p, grads[st]![i]!));
        be.read = async (buf) => {
          reads++;
          return read(buf);
        };
        opt.step({ lr: h.lr[st] });
        be.read = read;
      }
      assert.is(reads, 0);
      const out = await Promise.all(params.map(async (p) => Array.from(await p.read())));
      close(out, referenceAdamW(SHAPES, w0, grads, h), 2e-5, 1e-5, 'webgpu');
      const last = Math.sqrt(grads[5]!.flat().reduce((a, g) => a + g * g, 0));
      assert.ok(Math.abs((await opt.gradNorm!.item()) - last) < 1e-5 * last);
    } finally {
      be.read = read;
      opt.dispose();
      for (const p of params) p.dispose();
    }
  });
  w.run();
}
