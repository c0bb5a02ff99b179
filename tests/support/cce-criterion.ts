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

async function evaluate(fn: typeof linearCrossEntropy | typeof naiveLinearCrossEntropy, backend: Backend, data: ReturnType<typeof randomCceData>, shape: [number, number, number, number], c: CceCase, projection: Float64Array | null): Promise<Outcome> {
  const [B, T, D, V] = shape;
  return C.scope(async () => {
    const e = C.tensor(data.e, [B, T, D], { backend });
    const cl = C.tensor(data.c, [V, D], { backend });
    const bias = c.opts.bias ? C.tensor(Float64Array.from({ length: V }, (_, i) => Math.sin(i) * 0.5), [V], { backend }) : undefined;
    const t = C.tensor(data.targets, [B, T], { backend, dtype: 'i32' });
    for (const x of [e, cl, ...(bias ? [bias] : [])]) x.requiresGrad = true;
    const loss = (fn as typeof naiveLinearCrossEntropy)(e, cl, t, { ...c.opts, bias });
    C.backward(loss, projection ? C.tensor(projection, loss.shape, { backend }) : undefined);
    const grads = await Promise.all([e, cl, ...(bias ? [bias] : [])].map(async (x) => {
      const g = Float64Array.from(await x.grad!.read());
      x.grad!.dispose();
      return g;
    }));
    return { loss: Float64Array.from(await loss.read()), grads };
  });
}

function checkCriterion(what: string, ours: Float64Array, naive: Float64Array, truth: Float64Array, relTol: number): void {
  let scale = 0;
  for (const x of truth) scale = Math.max(scale, Math.abs(x));
  const tol = relTol * scale;
  for (let i = 0; i < truth.length; i++) {
    const err = Math.abs(ours[i]! - truth[i]!);
    const allowed = Math.abs(naive[i]! - truth[i]!) + tol;
    if (!(err <= allowed)) {
      throw new Error(`${what}[${i}]: |ours - truth| = ${err.toExponential(3)} > |naive - truth| + tol = ${allowed.toExponential(3)} (ours ${ours[i]}, truth ${truth[i]})`);
    }
  }
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
      const [B, T, D, V] = shape;
      const data = randomCceData(B * T, D, V, 100 + k, c.name.includes('ignored') || c.name === 'all options' ? 0.2 : 0);
      const rng = C.mulberry32(k);
      const projection = c.opts.reduction === 'none' ? Float64Array.from({ length: B * T }, () => rng() * 2 - 1) : null;
      const live = backend.memory().liveBuffers;
      const truth = await evaluate(naiveLinearCrossEntropy, truthBackend, data, shape, c, projection);
      const naive = await evaluate(naiveLinearCrossEntropy, backend, data, shape, c, projection);
      const ours = await evaluate(linearCrossEntropy, backend, data, shape, c, projection);
      checkCriterion(`${c.name}: loss`, ours.loss, naive.loss, truth.loss, LOSS_TOL);
      ['dE', 'dC', 'dBias'].forEach((g, i) => {
        if (truth.grads[i]) checkCriterion(`${c.name}: ${g}`, ours.grads[i]!, naive.grads[i]!, truth.grads[i]!, GRAD_TOL);
      });
      if (backend.memory().liveBuffers !== live) throw new Error(`${c.name}: ${backend.memory().liveBuffers - live} buffers leaked`);
    });
  });
  return s;
}

export type { Tensor };
