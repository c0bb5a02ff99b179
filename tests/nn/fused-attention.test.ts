// The fused causal attention of packages/nn (causalAttention): gradcheck of q, k and v on the f64
// reference at small odd shapes; forward and the three gradients (backward of a random output gradient)
// on cpu f32, gpujs:webasm and webgpu against the same math composed from core ops in f64 (matmul transB,
// mulScalar, + a -inf mask, softmax, matmul), with a custom scale too and no leaked buffers; causality
// (later keys and values change neither earlier outputs nor, through them, anything else); a NaN in one
// query reaching only its own row, a NaN in one key only the queries that attend it (position 0 too);
// large logits staying finite (online softmax); bad inputs refused.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as C from '@cce/core';
import type { Backend, Tensor } from '@cce/core';
import { createGpujsBackend } from '@cce/backend-gpujs';
import { type AttentionVariant, type CausalAttentionOptions, causalAttention } from '@cce/nn';
import { compareArrays } from '../support/conformance.js';
import { requireBackend, webgpuAvailable } from '../webgpu/support.js';

const s = suite('nn: fused causal attention');
const cpu = new C.CpuBackend();
const f64 = new C.CpuBackend({ precision: 'f64' });

/** [B, H, T, dh]: one token, one head, T not a multiple of anything, dh 64 as in GPT-2. */
const SHAPES: [number, number, number, number][] = [[1, 1, 1, 8], [2, 3, 17, 16], [1, 2, 33, 64]];
const GRADCHECK_SHAPES: [number, number, number, number][] = [[1, 1, 1, 1], [1, 2, 5, 3], [2, 1, 7, 4]];

const randomHost = (n: number, seed: number, amplitude = 1) => {
  const rng = C.mulberry32(seed);
  return Float64Array.from({ length: n }, () => (rng() * 2 - 1) * amplitude);
};
const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** The composed attention from core ops, as CausalSelfAttention computes it: the reference. */
function composedAttention(q: Tensor, k: Tensor, v: Tensor, opts: { scale?: number } = {}): Tensor {
  const T = q.shape[2]!, dh = q.shape[3]!;
  const mask = new Float64Array(T * T);
  for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) mask[i * T + j] = -Infinity;
  const scores = C.add(C.mulScalar(C.matmul(q, k, { transB: true }), opts.scale ?? 1 / Math.sqrt(dh)), C.tensor(mask, [T, T], { backend: q.backend }));
  return C.matmul(C.softmax(scores, -1), v);
}

type Opts = CausalAttentionOptions;
type Attention = (q: Tensor, k: Tensor, v: Tensor, opts?: Opts) => Tensor;

interface Case { shape: number[]; q: Float64Array; k: Float64Array; v: Float64Array; p: Float64Array }
const makeCase = (shape: number[], seed: number, qkAmplitude = 1): Case => {
  const n = sizeOf(shape);
  return { shape, q: randomHost(n, seed, qkAmplitude), k: randomHost(n, seed + 1, qkAmplitude), v: randomHost(n, seed + 2), p: randomHost(n, seed + 3) };
};

type Host = ArrayLike<number>;
interface Result { out: Host; dq: Host; dk: Host; dv: Host }

/** out, and dq, dk, dv of backward(out, p), by `attn` on `backend`; checks that nothing leaks. */
async function run(backend: Backend, c: Case, attn: Attention, opts?: Opts): Promise<Result> {
  const live = backend.memory().liveBuffers;
  const r = await C.scope(async () => {
    const [q, k, v] = [c.q, c.k, c.v].map((d) => {
      const t = C.tensor(d, c.shape, { backend });
      t.requiresGrad = true;
      return t;
    }) as [Tensor, Tensor, Tensor];
    const out = attn(q, k, v, opts);
    assert.equal([...out.shape], c.shape, `output shape on ${backend.name}`);
    assert.is(out.dtype, 'f32');
    C.backward(out, C.tensor(c.p, c.shape, { backend }));
    return { out: await out.read(), dq: await q.grad!.read(), dk: await k.grad!.read(), dv: await v.grad!.read() };
  });
  assert.is(backend.memory().liveBuffers, live, `${backend.memory().liveBuffers - live} buffers leaked on ${backend.name}`);
  return r;
}

/**
 * Forward and gradients of the fused op on `backend` (one variant: 'auto', or the op's 'tiles', 'rows'
 * and 'elements' kernels named) against the composed path in f64, every shape (T 33 is two tiles of the
 * tiles variant, the second of one row); with 'auto', also dh 130, past the tiles and rows variants'
 * head sizes (so 'auto' falls back to 'elements'), and dh 6, not a multiple of 4 (tiles then gives way
 * to rows); with 'tiles', also workgroups of 64 rows (`tileRows`, the default for long sequences) at
 * T 70: two tiles, the second of 6 rows.
 */
async function checkBackend(backend: Backend, variant: AttentionVariant = 'auto', rtol = 2e-5) {
  const shapes: [number[], Opts][] = [...SHAPES.map((s): [number[], Opts] => [s, { variant }]),
    ...(variant === 'auto' ? [[[1, 1, 6, 130], { variant }], [[1, 2, 5, 6], { variant }]] as [number[], Opts][] : []),
    ...(variant === 'tiles' ? [[[1, 2, 70, 8], { variant, tileRows: 64 }], [[1, 2, 70, 8], { variant, tileRows: 32 }]] as [number[], Opts][] : [])];
  for (const [i, [shape, opts]] of shapes.entries()) {
    const c = makeCase(shape, 100 + 10 * i);
    const want = await run(f64, c, composedAttention);
    const got = await run(backend, c, causalAttention, opts);
    const what = `${backend.name} ${variant}${opts.tileRows ? ` (${opts.tileRows} rows a tile)` : ''} [${shape}]`;
    compareArrays(`out on ${what}`, got.out, want.out, rtol);
    compareArrays(`dq on ${what}`, got.dq, want.dq, rtol);
    compareArrays(`dk on ${what}`, got.dk, want.dk, rtol);
    compareArrays(`dv on ${what}`, got.dv, want.dv, rtol);
  }
  // A scale other than 1/sqrt(dh).
  const c = makeCase([2, 2, 9, 8], 7);
  const want = await run(f64, c, composedAttention, { scale: 0.7 });
  const got = await run(backend, c, causalAttention, { scale: 0.7, variant });
  for (const key of ['out', 'dq', 'dk', 'dv'] as const) compareArrays(`${key} (scale 0.7) on ${backend.name} ${variant}`, got[key], want[key], rtol);
}

/**
 * Causality at [2, 2, 9, 8]: changing k and v at positions > 4 leaves out[.., 0..4, :] bit for bit; and
 * with an output gradient that is zero past row 4, dk and dv past position 4 and dq past row 4 are 0.
 */
async function checkCausal(backend: Backend) {
  const shape = [2, 2, 9, 8], T = 9, dh = 8, cut = 4;
  const a = makeCase(shape, 21);
  const b: Case = { ...a, k: Float64Array.from(a.k), v: Float64Array.from(a.v) };
  const later = (idx: number) => Math.floor(idx / dh) % T > cut;
  const rng = C.mulberry32(22);
  for (let idx = 0; idx < b.k.length; idx++) if (later(idx)) { b.k[idx] = rng() * 6 - 3; b.v[idx] = rng() * 6 - 3; }
  for (let idx = 0; idx < a.p.length; idx++) if (later(idx)) a.p[idx] = 0;
  b.p = a.p;
  const ra = await run(backend, a, causalAttention);
  const rb = await run(backend, b, causalAttention);
  let changed = 0;
  for (let idx = 0; idx < ra.out.length; idx++) {
    if (later(idx)) changed = Math.max(changed, Math.abs(ra.out[idx]! - rb.out[idx]!));
    else assert.is(rb.out[idx], ra.out[idx], `out at position ${Math.floor(idx / dh) % T} changed on ${backend.name}`);
  }
  assert.ok(changed > 1e-3, `positions > ${cut} did not change on ${backend.name} (${changed})`);
  for (const r of [ra, rb]) {
    for (let idx = 0; idx < r.dk.length; idx++) {
      if (!later(idx)) continue;
      const at = `position ${Math.floor(idx / dh) % T} on ${backend.name}`;
      assert.ok(r.dk[idx] === 0, `dk at ${at} is ${r.dk[idx]}, not 0`);
      assert.ok(r.dv[idx] === 0, `dv at ${at} is ${r.dv[idx]}, not 0`);
      assert.ok(r.dq[idx] === 0, `dq at ${at} is ${r.dq[idx]}, not 0`);
    }
  }
}

/**
 * A NaN in q or k at position `pos` of (b 0, h 1), element 2, in [2, 2, 7, 4] inputs.
 * The composed path: a NaN in q[i] makes row i of the scores q kᵀ NaN (every key j), so softmax row i
 * and out row i are NaN, and every other row stays finite; the fused op must do the same. A NaN in k[j]
 * makes column j of the scores NaN for every query, and adding the -inf mask keeps NaN (NaN + -inf is
 * NaN), so in the composed path it reaches every query of that head, even those before j. The fused op is
 * held to causality instead: queries i >= j (which attend key j) are NaN, queries i < j (which never see
 * it) stay finite, as the causal test requires for any other change of a later key. Position 0 is a case
 * of its own: query 0 attends key 0 alone, so a NaN in q[0] or k[0] must still make row 0 NaN (a kernel
 * that starts its running sum at key 0 without using that score would hide it).
 */
async function checkNaN(backend: Backend, which: 'q' | 'k', pos: number, variant: AttentionVariant = 'auto') {
  const shape = [2, 2, 7, 4], T = 7, dh = 4, head = 1;
  const c = makeCase(shape, 31);
  c[which][(head * T + pos) * dh + 2] = NaN;
  const forward = async (b: Backend, attn: Attention) => C.scope(async () => {
    const [q, k, v] = [c.q, c.k, c.v].map((d) => C.tensor(d, shape, { backend: b })) as [Tensor, Tensor, Tensor];
    return attn(q, k, v, { variant }).read();
  });
  const want = await forward(f64, composedAttention);
  const got = await forward(backend, causalAttention);
  const classes = (x: ArrayLike<number>) => Array.from(x, (e) => (Number.isNaN(e) ? 'NaN' : Number.isFinite(e) ? 'finite' : 'inf'));
  /** The (b, h) and query position of an output element. */
  const at = (idx: number) => ({ bh: Math.floor(idx / (T * dh)), i: Math.floor(idx / dh) % T });
  const pattern = (nan: (i: number) => boolean) => Array.from({ length: c.q.length }, (_, idx) => (at(idx).bh === head && nan(at(idx).i) ? 'NaN' : 'finite'));
  const composedPattern = pattern(which === 'q' ? (i) => i === pos : () => true);
  const fusedPattern = pattern(which === 'q' ? (i) => i === pos : (i) => i >= pos);
  assert.equal(classes(want), composedPattern, `composed path, NaN in ${which}[${pos}]`);
  const what = `${backend.name} ${variant}, NaN in ${which}[${pos}]`;
  const gotClasses = classes(got);
  const bad = gotClasses.map((g, idx) => (g !== fusedPattern[idx] ? `position ${at(idx).i} of head ${at(idx).bh}: ${g}, expected ${fusedPattern[idx]}` : null)).filter((x) => x);
  assert.ok(bad.length === 0, `NaN pattern on ${what}: ${[...new Set(bad)].slice(0, 4).join('; ')}`);
  const finite: number[] = [], ref: number[] = [];
  gotClasses.forEach((g, idx) => { if (g === 'finite' && !Number.isNaN(want[idx]!)) { finite.push(got[idx]!); ref.push(want[idx]!); } });
  compareArrays(`out (finite rows) on ${what}`, finite, ref);
}

/** Every NaN case on one backend, for each variant; reports every failing case at once. */
async function checkNaNs(backend: Backend, which: 'q' | 'k', variants: AttentionVariant[] = ['auto']) {
  const failures: string[] = [];
  for (const variant of variants) {
    for (const pos of [3, 0, 6]) {
      try {
        await checkNaN(backend, which, pos, variant);
      } catch (e) {
        failures.push((e as Error).message);
      }
    }
  }
  if (failures.length) throw new Error(failures.join('\n'));
}

/**
 * q and k scaled by 30: logits of magnitude up to ~30² · dh / sqrt(dh) (3600 at dh 16), which overflow
 * exp() in f32 unless the running maximum is subtracted (online softmax). out must stay finite and match
 * the reference; the gradients must be finite and match it within a looser tolerance (below).
 */
/** A score that overflows to -inf on key 0 (q[1] = 1e30, k[0] = -1e30 along one axis, in f32) while the
 *  other keys' scores stay finite: key 0 gets weight 0 and row 1 stays finite, as in the composed path. */
async function checkNegativeInfinityScore(backend: Backend, variants: AttentionVariant[]) {
  const shape = [1, 1, 3, 4];
  const c = makeCase(shape, 41);
  c.q.set([1e30, 0, 0, 0], 4);
  c.k.set([-1e30, 0, 0, 0], 0);
  const out = async (attn: Attention, variant?: AttentionVariant) => (await C.scope(async () => {
    const [q, k, v] = [c.q, c.k, c.v].map((d) => C.tensor(d, shape, { backend })) as [Tensor, Tensor, Tensor];
    return attn(q, k, v, variant ? { variant } : {}).read();
  }));
  const want = await out(composedAttention);
  assert.ok(want.slice(4, 8).every(Number.isFinite), `composed row 1: ${want.slice(4, 8).join(', ')}`);
  for (const variant of variants) {
    const got = await out(causalAttention, variant);
    compareArrays(`${variant} with a -inf score on ${backend.name}`, got, want);
  }
}

async function checkLargeLogits(backend: Backend) {
  for (const [i, shape] of [[1, 2, 17, 16], [1, 1, 33, 64]].entries()) {
    const c = makeCase(shape, 41 + i, 30);
    const want = await run(f64, c, composedAttention);
    const got = await run(backend, c, causalAttention);
    for (const key of ['out', 'dq', 'dk', 'dv'] as const) {
      assert.ok(Array.from(got[key]).every(Number.isFinite), `${key} not finite on ${backend.name} [${shape}]`);
    }
    compareArrays(`out (large logits) on ${backend.name} [${shape}]`, got.out, want.out);
    // f32 logits near 3600 carry absolute errors ~3600 · 2^-24 ≈ 2e-4, which reach the softmax weights
    // at near ties and the gradients (dq, dk scaled by 30): the composed path itself in f32 misses the
    // f64 reference by 2.5e-5 of the largest magnitude here (dk, [1, 2, 17, 16]), past the usual 2e-5; the
    // fused op by up to 1.3e-4 (dq on gpujs:webasm, [1, 1, 33, 64]). Hence 5e-4 for these gradients.
    for (const key of ['dq', 'dk', 'dv'] as const) compareArrays(`${key} (large logits) on ${backend.name} [${shape}]`, got[key], want[key], 5e-4);
  }
}

s('gradcheck of q, k and v on the f64 reference at small odd shapes', async () => {
  for (const [i, shape] of GRADCHECK_SHAPES.entries()) {
    const c = makeCase(shape, 10 + i);
    const xs = [c.q, c.k, c.v].map((d) => C.tensor(d, shape, { backend: f64 }));
    const r = await C.gradcheck((q, k, v) => causalAttention(q!, k!, v!), xs);
    assert.is(r.checked, 3 * sizeOf(shape));
    assert.ok(r.ok, `[${shape}]: ${C.formatGradcheck(r)}`);
    const rs = await C.gradcheck((q, k, v) => causalAttention(q!, k!, v!, { scale: 0.37 }), xs);
    assert.ok(rs.ok, `[${shape}] scale 0.37: ${C.formatGradcheck(rs)}`);
    xs.forEach((x) => x.dispose());
  }
});

s('the composed reference itself passes gradcheck (sanity of the reference)', async () => {
  const c = makeCase([1, 2, 5, 3], 11);
  const xs = [c.q, c.k, c.v].map((d) => C.tensor(d, c.shape, { backend: f64 }));
  const r = await C.gradcheck((q, k, v) => composedAttention(q!, k!, v!), xs);
  assert.ok(r.ok, C.formatGradcheck(r));
  xs.forEach((x) => x.dispose());
});

s('cpu f32: forward and gradients match the composed f64 path (auto, tiles, rows and elements); no buffers leak', async () => {
  await checkBackend(cpu);
  await checkBackend(cpu, 'tiles');
  await checkBackend(cpu, 'rows');
  await checkBackend(cpu, 'elements');
});

s('cpu: causal (later keys and values change no earlier output, and get no gradient from one)', async () => {
  await checkCausal(cpu);
});

s('cpu: a NaN in q[i] makes only row i NaN (i = 3, 0, 6; tiles, rows and elements)', async () => {
  await checkNaNs(cpu, 'q', ['tiles', 'rows', 'elements']);
});

s('cpu: a NaN in k[j] makes rows i >= j NaN and leaves rows i < j finite (j = 3, 0, 6; tiles, rows and elements)', async () => {
  await checkNaNs(cpu, 'k', ['tiles', 'rows', 'elements']);
});

s('cpu: large logits (q, k scaled by 30) stay finite and match the reference', async () => {
  await checkLargeLogits(cpu);
});

s('cpu: a score that overflows to -inf gives its key weight 0, as the composed path does (tiles, rows and elements)', async () => {
  await checkNegativeInfinityScore(cpu, ['tiles', 'rows', 'elements']);
});

s('bad inputs are refused naming the op', () => {
  C.scopeSync(() => {
    const shape = [1, 2, 5, 4];
    const x = () => C.randn(shape, { backend: cpu });
    const q = x(), k = x(), v = x();
    const throws = (fn: () => unknown, what: string) => {
      let message: string | null = null;
      try {
        fn();
      } catch (e) {
        message = (e as Error).message;
      }
      assert.ok(message !== null, `${what}: did not throw`);
      assert.ok(/^causalAttention: /.test(message!), `${what}: message does not start with 'causalAttention: ': ${message}`);
    };
    const r3 = C.randn([2, 5, 4], { backend: cpu });
    throws(() => causalAttention(r3, r3, r3), 'rank 3');
    throws(() => causalAttention(C.randn([1, 1, 2, 5, 4], { backend: cpu }), C.randn([1, 1, 2, 5, 4], { backend: cpu }), C.randn([1, 1, 2, 5, 4], { backend: cpu })), 'rank 5');
    throws(() => causalAttention(q, r3, v), 'k of rank 3');
    throws(() => causalAttention(q, k, C.randn([1, 2, 5, 4, 1], { backend: cpu })), 'v of rank 5');
    throws(() => causalAttention(q, C.randn([1, 2, 5, 3], { backend: cpu }), v), 'k with another dh');
    throws(() => causalAttention(q, k, C.randn([1, 2, 6, 4], { backend: cpu })), 'v with another T');
    throws(() => causalAttention(q, C.randn([2, 2, 5, 4], { backend: cpu }), v), 'k with another B');
    throws(() => causalAttention(q, k, C.randn([1, 3, 5, 4], { backend: cpu })), 'v with another H');
    throws(() => causalAttention(C.randn([1, 2, 6, 4], { backend: cpu }), k, v), 'q with another T');
    const i32 = C.tensor(new Int32Array(sizeOf(shape)), shape, { dtype: 'i32', backend: cpu });
    throws(() => causalAttention(i32, k, v), 'q i32');
    throws(() => causalAttention(q, i32, v), 'k i32');
    throws(() => causalAttention(q, k, i32), 'v i32');
    throws(() => causalAttention(q, C.randn(shape, { backend: f64 }), v), 'k on another backend');
    throws(() => causalAttention(q, k, C.randn(shape, { backend: f64 }), {}), 'v on another backend');
    for (const scale of [NaN, Infinity, -Infinity, '0.5' as unknown as number]) throws(() => causalAttention(q, k, v, { scale }), `scale ${String(scale)}`);
    // Beyond the brief's API: the op's variant option.
    throws(() => causalAttention(q, k, v, { variant: 'tiled' as AttentionVariant }), "variant 'tiled'");
    const wide = C.randn([1, 1, 2, 129], { backend: cpu });
    throws(() => causalAttention(wide, wide, wide, { variant: 'rows' }), 'rows variant at dh 129');
    throws(() => causalAttention(wide, wide, wide, { variant: 'tiles' }), 'tiles variant at dh 129');
    const odd = C.randn([1, 1, 2, 6], { backend: cpu });
    throws(() => causalAttention(odd, odd, odd, { variant: 'tiles' }), 'tiles variant at dh 6');
    for (const tileRows of [48, 0, 128]) throws(() => causalAttention(q, k, v, { variant: 'tiles', tileRows: tileRows as 32 }), `tileRows ${tileRows}`);
    throws(() => causalAttention(q, k, v, { variant: 'rows', tileRows: 32 }), 'tileRows with the rows variant');
  });
});

s('gpujs:webasm: forward, gradients, causality, NaN rows and large logits match', async () => {
  const backend = await createGpujsBackend('webasm');
  try {
    await checkBackend(backend);
    await checkCausal(backend);
    await checkNaNs(backend, 'q');
    await checkNaNs(backend, 'k');
    await checkLargeLogits(backend);
    C.scopeSync(() => {
      const x = C.randn([1, 1, 3, 4], { backend });
      assert.throws(() => causalAttention(x, x, x, { variant: 'rows' }), /^causalAttention: the rows variant .*map kernels only/);
      assert.throws(() => causalAttention(x, x, x, { variant: 'tiles' }), /^causalAttention: the tiles variant needs workgroup memory/);
    });
  } finally {
    backend.destroy();
  }
});

s.run();

if (await webgpuAvailable('nn: fused causal attention')) {
  const w = suite('nn: fused causal attention on webgpu');
  w('forward and gradients match the composed f64 path (auto, tiles, rows and elements); no buffers leak', async () => {
    const backend = await requireBackend();
    await checkBackend(backend);
    await checkBackend(backend, 'tiles');
    await checkBackend(backend, 'rows');
    await checkBackend(backend, 'elements');
  });
  w('causal (later keys and values change no earlier output, and get no gradient from one)', async () => {
    await checkCausal(await requireBackend());
  });
  w('a NaN in q[i] makes only row i NaN (i = 3, 0, 6; tiles, rows and elements)', async () => {
    await checkNaNs(await requireBackend(), 'q', ['tiles', 'rows', 'elements']);
  });
  w('a NaN in k[j] makes rows i >= j NaN and leaves rows i < j finite (j = 3, 0, 6; tiles, rows and elements)', async () => {
    await checkNaNs(await requireBackend(), 'k', ['tiles', 'rows', 'elements']);
  });
  w('a score that overflows to -inf gives its key weight 0, as the composed path does (tiles, rows and elements)', async () => {
    await checkNegativeInfinityScore(await requireBackend(), ['tiles', 'rows', 'elements']);
  });
  w('large logits (q, k scaled by 30) stay finite and match the reference', async () => {
    await checkLargeLogits(await requireBackend());
  });
  w.run();
}
