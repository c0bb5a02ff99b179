// The CCE accuracy criterion, as the official CCE tests use it: elementwise,
// |ours - f64 truth| <= |naive f32 - f64 truth| + tol, for the loss and every gradient, where the truth is
// the naive path on the float64 reference and "naive f32" is the naive path on the backend under test.
import { suite } from 'uvu';
import * as C from '@cce/core';
import type { Backend, Tensor } from '@cce/core';
import { type LinearCrossEntropyOptions, linearCrossEntropy, naiveLinearCrossEntropy, randomCceData } from '@cce/cce';

/** tol for the loss, relative to max |truth|. */
export const LOSS_TOL = 1e-5;
/** tol for gradients, relative to max |truth| of that gradient. */
export const GRAD_TOL = 5e-4;

export interface CceCase {
  name: string;
  opts: Omit<LinearCrossEntropyOptions, 'bias'> & { bias?: boolean };
}

export const cceCases: CceCase[] = [
  { name: 'plain', opts: {} },
  { name: '20% ignored targets', opts: {} },
  { name: 'shift 1', opts: { shift: 1 } },
  { name: 'softcap 4', opts: { softcap: 4 } },
  { name: 'bias', opts: { bias: true } },
  { name: 'label smoothing 0.1', opts: { labelSmoothing: 0.1 } },
  { name: 'z-loss 1e-3', opts: { zLoss: 1e-3 } },
  { name: 'reduction sum', opts: { reduction: 'sum' } },
  { name: 'reduction none', opts: { reduction: 'none' } },
  { name: 'all options', opts: { shift: 1, softcap: 4, bias: true, labelSmoothing: 0.1, zLoss: 1e-3, reduction: 'mean' } },
];

interface Outcome {
  loss: Float64Array;
  grads: Float64Array[];
}

/** One problem's host data: data.e [B, T, D], data.c [V, D], targets [B, T], and bias [V] when used. */
interface Problem {
  data: { e: ArrayLike<number>; c: ArrayLike<number>; targets: Int32Array };
  bias: Float64Array | null;
  shape: [number, number, number, number];
  projection: Float64Array | null;
}

async function evaluate(fn: typeof linearCrossEntropy | typeof naiveLinearCrossEntropy, backend: Backend, p: Problem, c: CceCase): Promise<Outcome> {
  const [B, T, D, V] = p.shape;
  return C.scope(async () => {
    const e = C.tensor(p.data.e, [B, T, D], { backend });
    const cl = C.tensor(p.data.c, [V, D], { backend });
    const bias = p.bias ? C.tensor(p.bias, [V], { backend }) : undefined;
    const t = C.tensor(p.data.targets, [B, T], { backend, dtype: 'i32' });
    for (const x of [e, cl, ...(bias ? [bias] : [])]) x.requiresGrad = true;
    const loss = (fn as typeof naiveLinearCrossEntropy)(e, cl, t, { ...c.opts, bias });
    C.backward(loss, p.projection ? C.tensor(p.projection, loss.shape, { backend }) : undefined);
    const grads = await Promise.all([e, cl, ...(bias ? [bias] : [])].map(async (x) => {
      const g = Float64Array.from(await x.grad!.read());
      x.grad!.dispose();
      return g;
    }));
    return { loss: Float64Array.from(await loss.read()), grads };
  });
}

/**
 * Finite truths by the criterion; a non-finite truth must be matched exactly (NaN by NaN, an infinity by
 * the same infinity), as the naive path gives it.
 */
function checkCriterion(what: string, ours: Float64Array, naive: Float64Array, truth: Float64Array, relTol: number): void {
  let scale = 0;
  for (const x of truth) if (Number.isFinite(x)) scale = Math.max(scale, Math.abs(x));
  const tol = relTol * scale;
  for (let i = 0; i < truth.length; i++) {
    const [o, t] = [ours[i]!, truth[i]!];
    if (!Number.isFinite(t)) {
      if (!Object.is(o, t) && !(Number.isNaN(o) && Number.isNaN(t))) throw new Error(`${what}[${i}]: ours ${o}, the naive path in f64 gives ${t}`);
      continue;
    }
    const err = Math.abs(o - t);
    const allowed = Math.abs(naive[i]! - t) + tol;
    if (!(err <= allowed)) {
      throw new Error(`${what}[${i}]: |ours - truth| = ${err.toExponential(3)} > |naive - truth| + tol = ${allowed.toExponential(3)} (ours ${o}, truth ${t})`);
    }
  }
}

/** CCE on `backend` against the naive path there and the f64 truth, by the criterion; no buffer leaked. */
async function checkProblem(name: string, backend: Backend, truthBackend: Backend, p: Problem, c: CceCase): Promise<void> {
  const live = backend.memory().liveBuffers;
  const truth = await evaluate(naiveLinearCrossEntropy, truthBackend, p, c);
  const naive = await evaluate(naiveLinearCrossEntropy, backend, p, c);
  const ours = await evaluate(linearCrossEntropy, backend, p, c);
  checkCriterion(`${name}: loss`, ours.loss, naive.loss, truth.loss, LOSS_TOL);
  ['dE', 'dC', 'dBias'].forEach((g, i) => {
    if (truth.grads[i]) checkCriterion(`${name}: ${g}`, ours.grads[i]!, naive.grads[i]!, truth.grads[i]!, GRAD_TOL);
  });
  if (backend.memory().liveBuffers !== live) throw new Error(`${name}: ${backend.memory().liveBuffers - live} buffers leaked`);
}

const smoothBias = (V: number) => Float64Array.from({ length: V }, (_, i) => Math.sin(i) * 0.5);

function projectionFor(c: CceCase, n: number, seed: number): Float64Array | null {
  const rng = C.mulberry32(seed);
  return c.opts.reduction === 'none' ? Float64Array.from({ length: n }, () => rng() * 2 - 1) : null;
}

/** Registers one test per case: CCE on `makeBackend()` against the naive path there and the f64 truth. */
export function cceCriterionSuite(name: string, makeBackend: () => Promise<Backend>, shape: [number, number, number, number] = [2, 23, 19, 157]) {
  const s = suite(name);
  let backend: Backend;
  const truthBackend = new C.CpuBackend({ precision: 'f64' });
  s.before(async () => {
    backend = await makeBackend();
  });
  cceCases.forEach((c, k) => {
    s(c.name, async () => {
      const [B, T, , V] = shape;
      const data = randomCceData(B * T, shape[2], V, 100 + k, c.name.includes('ignored') || c.name === 'all options' ? 0.2 : 0);
      await checkProblem(c.name, backend, truthBackend, { data, shape, bias: c.opts.bias ? smoothBias(V) : null, projection: projectionFor(c, B * T, k) }, c);
    });
  });
  return s;
}

/**
 * Non-finite inputs, each with every case: a -inf bias on some entries (how a vocabulary padded to a
 * multiple of 64 is masked), a NaN in one row of e, of c, or in the bias. The vocabulary has more than
 * one sort block's padding (V = 70, a power-of-two sort of 128) and the masked entries are never targets.
 */
export const nonFiniteInjections = [
  { name: '-inf bias on padded entries', bias: true, apply: (p: Problem) => { for (const v of [3, 64, 65, 66, 67, 68, 69]) p.bias![v] = -Infinity; } },
  { name: 'NaN in one row of e', bias: false, apply: (p: Problem) => { (p.data.e as Float64Array)[1 * p.shape[2] + 2] = NaN; } },
  { name: 'NaN in one row of c', bias: false, apply: (p: Problem) => { (p.data.c as Float64Array)[5 * p.shape[2] + 1] = NaN; } },
  { name: 'NaN in the bias', bias: true, apply: (p: Problem) => { p.bias![10] = NaN; } },
];

export function cceNonFiniteSuite(name: string, makeBackend: () => Promise<Backend>) {
  const s = suite(name);
  let backend: Backend;
  const truthBackend = new C.CpuBackend({ precision: 'f64' });
  s.before(async () => {
    backend = await makeBackend();
  });
  const shape: [number, number, number, number] = [2, 9, 6, 70];
  const [B, T, D, V] = shape;
  nonFiniteInjections.forEach((inj, j) => {
    cceCases.forEach((c, k) => {
      s(`${inj.name}, ${c.name}`, async () => {
        const raw = randomCceData(B * T, D, V, 300 + 17 * j + k, c.name.includes('ignored') || c.name === 'all options' ? 0.2 : 0);
        // Masked entries are never targets; the NaN row of e (token 1) predicts a valid target.
        const targets = raw.targets.map((t) => (t === 3 || t >= 64 ? 0 : t));
        targets[1] = 7;
        targets[2] = 8;
        const p: Problem = {
          data: { e: Float64Array.from(raw.e), c: Float64Array.from(raw.c), targets },
          shape, bias: inj.bias || c.opts.bias ? smoothBias(V) : null, projection: projectionFor(c, B * T, k),
        };
        inj.apply(p);
        await checkProblem(`${inj.name}, ${c.name}`, backend, truthBackend, p, { ...c, opts: { ...c.opts, bias: !!p.bias } });
      });
    });
  });
  return s;
}

export type { Tensor };
