// CCE properties: linearCrossEntropy on the backend under test against the naive path computed in
// float64 on the reference interpreter, by the official CCE criterion (tests/support/cce-criterion.ts's
// tolerances), for random shapes (0 and 1 included), every option, and +inf, -inf and NaN injected in
// chosen positions; and the semantics the naive path defines: NaN propagates, a -inf bias masks a
// vocabulary entry, a mean over no valid token is NaN with zero gradients.
import * as fc from 'fast-check';
import * as C from '@cce/core';
import type { Backend } from '@cce/core';
import { type LinearCrossEntropyOptions, linearCrossEntropy, naiveLinearCrossEntropy } from '@cce/cce';
import { GRAD_TOL, LOSS_TOL } from '../support/cce-criterion.js';
import { Mismatch, brief, compareByCriterion, coords, thrown } from './compare.js';
import { type AnyProperty, type FuzzContext, type Limits, defineProperty, withMapKernels } from './property.js';

type Opts = Omit<LinearCrossEntropyOptions, 'bias'>;

/** A value put into one position of the inputs. */
export type Injection =
  | { kind: '-inf in bias'; at: number }
  | { kind: 'NaN in a row of e'; at: number; col: number }
  | { kind: 'NaN in a row of c'; at: number; col: number }
  | { kind: '+inf'; in: 'e' | 'c' | 'bias'; at: number }
  | { kind: '-inf'; in: 'e' | 'c'; at: number };

export interface CceInput {
  /** targets' shape: [N] or [B, T]; e is [...leading, D]. */
  leading: number[];
  D: number;
  V: number;
  /** Spread of the logits (e ~ N(0, std), c ~ N(0, 1/D)): 0.1 flat, 12 very peaky. */
  std: number;
  /** Seed of the values (e, c, bias, targets, the output gradient). */
  seed: number;
  /** Fraction of the targets set to ignoreIndex. */
  ignoreFraction: number;
  /** Out-of-vocabulary targets where a shift means they are never read. */
  junkShifted: boolean;
  bias: boolean;
  /** 'in vocab' is resolved to floor(V / 2): a real entry whose targets are ignored. */
  ignoreIndex: number | 'in vocab' | undefined;
  opts: Omit<Opts, 'ignoreIndex'>;
  inject: Injection[];
  /** Vocabulary entries masked with a -inf bias (mask property): the last `count`, or `count` drawn. */
  mask?: { tail: boolean; count: number };
}

interface Built {
  N: number;
  T: number;
  e: Float64Array;
  c: Float64Array;
  bias: Float64Array | null;
  targets: Int32Array;
  /** The output gradient for reduction 'none'. */
  projection: Float64Array | null;
  opts: Opts;
  masked: number[];
  /** What was injected where, resolved to positions. */
  notes: string[];
}

function normal(rng: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
}

const prod = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);

export function buildCce(x: CceInput): Built {
  const { leading, D, V } = x;
  const N = prod(leading);
  const T = leading[leading.length - 1]!;
  const rng = C.mulberry32(x.seed);
  const f = Math.fround;
  const e = Float64Array.from({ length: N * D }, () => f(normal(rng) * x.std));
  const c = Float64Array.from({ length: V * D }, () => f(normal(rng) / Math.sqrt(D)));
  const needsBias = x.bias || !!x.mask || x.inject.some((j) => j.kind === '-inf in bias' || (j.kind === '+inf' && j.in === 'bias'));
  const bias = needsBias ? Float64Array.from({ length: V }, () => f(normal(rng) * 0.5)) : null;
  const ignoreIndex = x.ignoreIndex === 'in vocab' ? Math.floor(V / 2) : x.ignoreIndex;
  const opts: Opts = { ...x.opts, ...(ignoreIndex === undefined ? {} : { ignoreIndex }) };
  const notes: string[] = [];
  let masked: number[] = [];
  if (x.mask) {
    const count = Math.min(Math.max(x.mask.count, 1), V - 1);
    if (x.mask.tail) masked = Array.from({ length: count }, (_, i) => V - count + i);
    else {
      const order = Array.from({ length: V }, (_, i) => i);
      for (let i = V - 1; i > 0; i--) {
        const j = Math.floor(rng() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      masked = order.slice(0, count).sort((a, b) => a - b);
    }
    for (const v of masked) bias![v] = -Infinity;
    notes.push(`bias -inf at entries ${brief(masked, 40)}${x.mask.tail ? ' (padding V up)' : ''}`);
  }
  const allowed = Array.from({ length: V }, (_, i) => i).filter((v) => !masked.includes(v));
  const shift = x.opts.shift ?? 0;
  const ign = opts.ignoreIndex ?? -100;
  const targets = Int32Array.from({ length: N }, (_, i) => {
    if (x.junkShifted && i % T < shift) return V + 3;
    if (rng() < x.ignoreFraction) return ign;
    return allowed[Math.floor(rng() * allowed.length)]!;
  });
  const projection = (x.opts.reduction ?? 'mean') === 'none' ? Float64Array.from({ length: N }, () => f(rng() * 2 - 1)) : null;
  for (const j of x.inject) {
    if (j.kind === '-inf in bias') {
      bias![j.at % V] = -Infinity;
      notes.push(`bias[${j.at % V}] = -inf`);
    } else if (j.kind === 'NaN in a row of e' || j.kind === 'NaN in a row of c') {
      const isE = j.kind === 'NaN in a row of e';
      const rows = isE ? N : V;
      if (rows === 0) continue;
      const r = j.at % rows;
      (isE ? e : c)[r * D + (j.col % D)] = NaN;
      notes.push(`${isE ? 'e' : 'c'}[${r}, ${j.col % D}] = NaN`);
    } else {
      const arr = j.in === 'e' ? e : j.in === 'c' ? c : bias!;
      if (arr.length === 0) continue;
      const k = j.at % arr.length;
      arr[k] = j.kind === '+inf' ? Infinity : -Infinity;
      notes.push(`${j.in}[${j.in === 'bias' ? k : `${Math.floor(k / D)}, ${k % D}`}] = ${j.kind}`);
    }
  }
  return { N, T, e, c, bias, targets, projection, opts, masked, notes };
}

/** Whether token i's (shifted) target counts. */
function validTokens(b: Built, V: number): boolean[] {
  const shift = b.opts.shift ?? 0;
  const ign = b.opts.ignoreIndex ?? -100;
  return Array.from({ length: b.N }, (_, i) => {
    const t = i % b.T;
    if (t + shift >= b.T) return false;
    const y = b.targets[i + shift]!;
    return y !== ign && y >= 0 && y < V;
  });
}

/** One readable line: shapes, options, targets, values injected. */
export function describeCce(x: CceInput, b: Built): string {
  const opts = Object.entries(b.opts).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}: ${typeof v === 'string' ? `'${v}'` : v}`);
  if (b.bias) opts.unshift('bias');
  const parts = [
    `e [${[...x.leading, x.D].join(', ')}] (N ${b.N}), c [${x.V}, ${x.D}]`,
    `options {${opts.join(', ')}}`,
    `logit spread ${x.std}, value seed ${x.seed}`,
    `targets ${brief(b.targets, 40)}`,
  ];
  if (b.notes.length) parts.push(`injected: ${b.notes.join('; ')}`);
  if (b.N * x.D <= 12) parts.push(`e ${brief(b.e)}`);
  if (x.V * x.D <= 12) parts.push(`c ${brief(b.c)}`);
  if (b.bias && x.V <= 12) parts.push(`bias ${brief(b.bias)}`);
  return parts.join('; ');
}

interface Outcome {
  loss: Float64Array;
  lossShape: number[];
  dE: Float64Array;
  dC: Float64Array;
  dBias: Float64Array | null;
}

type Impl = 'fused' | 'naive';

const implName = (impl: Impl) => (impl === 'fused' ? 'linearCrossEntropy' : 'naiveLinearCrossEntropy');

/** The code under test threw: which implementation, where, and its own message. */
class Threw extends Mismatch {
  constructor(readonly impl: Impl, readonly backendName: string, readonly original: string, detail: string) {
    super(`${implName(impl)} on ${backendName} threw: ${detail}`);
  }
}

/** Forward and backward of one implementation; throws naming it and the backend when it throws. */
async function runCce(impl: Impl, backend: Backend, x: CceInput, b: Built, vocab?: { c: Float64Array; bias: Float64Array | null; targets: Int32Array; V: number }): Promise<Outcome> {
  const V = vocab?.V ?? x.V;
  const live = backend.memory().liveBuffers;
  let out: Outcome;
  try {
    out = await C.scope(async () => {
      const e = C.tensor(b.e, [...x.leading, x.D], { backend });
      const c = C.tensor(vocab?.c ?? b.c, [V, x.D], { backend });
      const biasData = vocab ? vocab.bias : b.bias;
      const bias = biasData ? C.tensor(biasData, [V], { backend }) : undefined;
      const t = C.tensor(vocab?.targets ?? b.targets, x.leading, { backend, dtype: 'i32' });
      const leaves = [e, c, ...(bias ? [bias] : [])];
      for (const l of leaves) l.requiresGrad = true;
      const opts = { ...b.opts, bias };
      const loss = impl === 'fused' ? linearCrossEntropy(e, c, t, opts) : naiveLinearCrossEntropy(e, c, t, opts);
      C.backward(loss, b.projection ? C.tensor(b.projection, loss.shape, { backend }) : undefined);
      const grads: Float64Array[] = [];
      for (const [k, l] of leaves.entries()) {
        if (!l.grad) throw new Mismatch(`no gradient for ${['e', 'c', 'bias'][k]}`);
        grads.push(Float64Array.from(await l.grad.read()));
        l.grad.dispose();
        l.grad = null;
      }
      return { loss: Float64Array.from(await loss.read()), lossShape: [...loss.shape], dE: grads[0]!, dC: grads[1]!, dBias: grads[2] ?? null };
    });
  } catch (err) {
    if (err instanceof Mismatch) throw new Mismatch(`${implName(impl)} on ${backend.name}: ${err.message}`);
    throw new Threw(impl, backend.name, err instanceof Error ? err.message : String(err), thrown(err));
  }
  const leaked = backend.memory().liveBuffers - live;
  if (leaked !== 0) throw new Mismatch(`${implName(impl)} on ${backend.name} leaked ${leaked} buffers`);
  return out;
}

/**
 * Per-element floors of the tolerance for values that are pure cancellation (V = 1, a saturated
 * softmax, a z-loss against the target's term), where a tolerance relative to the largest result is
 * below f32's resolution: KAPPA times the sum of the magnitudes of the terms an element is made of (the
 * classic rounding bound γ Σ|terms|), plus what a filter of filterEps may skip; computed in f64 on the
 * host. Far below the relative tolerance wherever the results are not themselves rounding residue.
 */
const KAPPA = 2 ** -18;

interface Floors {
  loss: Float64Array;
  dE: Float64Array;
  dC: Float64Array;
  dBias: Float64Array;
}

function roundingFloors(x: CceInput, b: Built): Floors {
  const { N } = b;
  const { D, V } = x;
  const o = b.opts;
  const s = o.softcap ?? 0;
  const eps = o.labelSmoothing ?? 0;
  const z = o.zLoss ?? 0;
  const fe = o.filterEps === null ? 0 : typeof o.filterEps === 'number' ? o.filterEps : 2 ** -24;
  const shift = o.shift ?? 0;
  const valid = validTokens(b, V);
  const count = valid.filter(Boolean).length;
  const reduction = o.reduction ?? 'mean';
  const g = Array.from({ length: N }, (_, i) => (!valid[i] ? 0 : reduction === 'mean' ? 1 / count : reduction === 'sum' ? 1 : Math.abs(b.projection![i]!)));
  const fin = (v: number) => (Number.isFinite(v) ? v : 0);
  const f: Floors = { loss: new Float64Array(reduction === 'none' ? N : 1), dE: new Float64Array(N * D), dC: new Float64Array(V * D), dBias: new Float64Array(V) };
  const y = new Float64Array(V);
  const m = new Float64Array(V);
  for (let i = 0; i < N; i++) {
    if (!valid[i]) continue;
    const t = b.targets[i + shift]!;
    let mx = -Infinity;
    for (let v = 0; v < V; v++) {
      let l = b.bias ? b.bias[v]! : 0;
      for (let d = 0; d < D; d++) l += b.e[i * D + d]! * b.c[v * D + d]!;
      y[v] = s > 0 ? s * Math.tanh(l / s) : l;
      mx = Math.max(mx, y[v]!);
    }
    let se = 0;
    for (let v = 0; v < V; v++) se += Math.exp(y[v]! - mx);
    const lse = mx + Math.log(se);
    let terms = Math.abs(lse) + (1 - eps) * Math.abs(y[t]!) + z * lse * lse;
    for (let v = 0; v < V; v++) {
      terms += (eps / V) * Math.abs(y[v]!);
      m[v] = fin(Math.exp(y[v]! - lse) * Math.abs(1 + 2 * z * lse) + (v === t ? 1 - eps : 0) + eps / V);
    }
    if (reduction === 'none') f.loss[i] = fin(KAPPA * terms);
    else f.loss[0]! += fin(KAPPA * g[i]! * terms);
    for (let v = 0; v < V; v++) {
      const w = g[i]! * (KAPPA * m[v]! + fe);
      f.dBias[v]! += w;
      for (let d = 0; d < D; d++) {
        f.dE[i * D + d]! += fin(w * Math.abs(b.c[v * D + d]!));
        f.dC[v * D + d]! += fin(w * Math.abs(b.e[i * D + d]!));
      }
    }
  }
  return f;
}

/**
 * With an infinity in e or c (a diverged model), the naive path's gradients hold 0 * inf = NaN where CCE
 * never forms the zero term (a skipped tile, the rank-one smoothing term): the contract (docs/DESIGN.md)
 * covers the loss exactly and the gradients only where the truth is finite.
 */
function finiteTruthOnly(ours: ArrayLike<number>, naive: ArrayLike<number>, truth: ArrayLike<number>): [Float64Array, Float64Array, Float64Array] {
  const keep = (xs: ArrayLike<number>) => Float64Array.from(xs, (v, i) => (Number.isFinite(truth[i]!) ? v : 0));
  return [keep(ours), keep(naive), keep(truth)];
}

function criterionAll(ours: Outcome, naive: Outcome, truth: Outcome, x: CceInput, floors: Floors): void {
  if (ours.lossShape.join() !== truth.lossShape.join()) throw new Mismatch(`loss has shape [${ours.lossShape}], truth [${truth.lossShape}]`);
  compareByCriterion('loss', ours.loss, naive.loss, truth.loss, LOSS_TOL, coords(truth.lossShape), floors.loss);
  const infiniteInput = x.inject.some((j) => (j.kind === '+inf' && j.in !== 'bias') || j.kind === '-inf');
  const grads = (o: ArrayLike<number>, n: ArrayLike<number>, t: ArrayLike<number>) => (infiniteInput ? finiteTruthOnly(o, n, t) : [o, n, t] as const);
  compareByCriterion('dE', ...grads(ours.dE, naive.dE, truth.dE), GRAD_TOL, coords([...x.leading, x.D]), floors.dE);
  compareByCriterion('dC', ...grads(ours.dC, naive.dC, truth.dC), GRAD_TOL, coords([x.V, x.D]), floors.dC);
  if (truth.dBias) compareByCriterion('dBias', ...grads(ours.dBias!, naive.dBias!, truth.dBias), GRAD_TOL, String, floors.dBias);
}

/** Wraps a check so that every failure starts with the readable case. */
async function withCase(x: CceInput, b: Built, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new Mismatch(`${msg}\n    case: ${describeCce(x, b)}`);
  }
}

/**
 * The criterion on one input. With `refusal`, the input is one the op must refuse: the naive path on the
 * reference must throw, and both paths on the backend with the same message; then `ours` is null.
 */
async function criterionCheck(ctx: FuzzContext, x: CceInput, refusal = false): Promise<{ b: Built; ours: Outcome | null }> {
  const b = buildCce(x);
  let ours: Outcome | null = null;
  await withCase(x, b, async () => {
    if (refusal) {
      const refused = async (impl: Impl, backend: Backend): Promise<string> => {
        try {
          await runCce(impl, backend, x, b);
        } catch (err) {
          if (err instanceof Threw) return err.original;
          throw err;
        }
        throw new Mismatch(`${implName(impl)} on ${backend.name} should refuse this input, and did not`);
      };
      const want = await withMapKernels(() => refused('naive', ctx.truth));
      for (const impl of ['naive', 'fused'] as const) {
        const got = await refused(impl, ctx.backend);
        if (got !== want) throw new Mismatch(`${implName(impl)} on ${ctx.backend.name} refused with '${got}', the reference with '${want}'`);
      }
      return;
    }
    const truth = await withMapKernels(() => runCce('naive', ctx.truth, x, b));
    const naive = await withMapKernels(() => runCce('naive', ctx.backend, x, b));
    ours = await runCce('fused', ctx.backend, x, b);
    criterionAll(ours, naive, truth, x, roundingFloors(x, b));
  });
  return { b, ours };
}

// ---- arbitraries

const undef = <T>(arb: fc.Arbitrary<T>, freq = 3) => fc.option(arb, { nil: undefined, freq });

const softcaps = fc.constantFrom(1, 4, 30);
const smoothings = fc.constantFrom(0.1, 0.5, 0.9);
const zLosses = fc.constantFrom(1e-4, 1e-2, 0.5);

/** Options drawn independently; undefined leaves the default. */
const optsArb = (o: { softcap?: boolean; smoothing?: boolean; shift?: boolean } = {}): fc.Arbitrary<Omit<Opts, 'ignoreIndex'>> =>
  fc.record({
    reduction: fc.constantFrom(undefined, 'mean', 'sum', 'none') as fc.Arbitrary<Opts['reduction']>,
    shift: o.shift === false ? fc.constant(undefined) : fc.constantFrom(undefined, 0, 1, 2),
    softcap: o.softcap === false ? fc.constant(undefined) : undef(softcaps),
    labelSmoothing: o.smoothing === false ? fc.constant(undefined) : undef(fc.oneof(fc.constant(0), smoothings)),
    zLoss: undef(fc.oneof(fc.constant(0), zLosses)),
    // Numbers no larger than 2^-20: a coarser filter deviates from the unfiltered gradient by design.
    filterEps: fc.constantFrom(undefined, 'auto', null, 0, 2 ** -20) as fc.Arbitrary<Opts['filterEps']>,
    sortVocab: undef(fc.boolean()),
    // 4 bytes: the smallest scratch, so chunks of one block each.
    scratchBytes: undef(fc.constantFrom(4, 4096)),
  }).map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)) as Omit<Opts, 'ignoreIndex'>);

/**
 * With limits.kernelFlags 'all-or-none', the options that select kernel code take one of two patterns:
 * all on (bias, softcap, labelSmoothing, zLoss) or the bias alone, so that a backend compiles the
 * CCE kernels of two combinations only. A property that rules softcap or smoothing out gets the bias alone.
 */
function flagsAllOrNone<X extends { bias: boolean; opts: Omit<Opts, 'ignoreIndex'> }>(l: Limits, arb: fc.Arbitrary<X>, allowed: { softcap?: boolean; smoothing?: boolean } = {}): fc.Arbitrary<X> {
  if (l.kernelFlags !== 'all-or-none') return arb;
  const canAll = allowed.softcap !== false && allowed.smoothing !== false;
  return fc.tuple(arb, fc.boolean(), softcaps, smoothings, zLosses).map(([x, on, softcap, labelSmoothing, zLoss]) => {
    const { softcap: _s, labelSmoothing: _l, zLoss: _z, ...rest } = x.opts;
    return { ...x, bias: true, opts: on && canAll ? { ...rest, softcap, labelSmoothing, zLoss } : rest };
  });
}

/** [N] or [B, T] with 1 <= N <= maxN. */
const leadingArb = (maxN: number) => fc.oneof(
  fc.integer({ min: 1, max: maxN }).map((n) => [n]),
  fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: maxN })).map(([B, T]) => [B, Math.max(1, Math.min(T, Math.floor(maxN / B)))]),
);

const baseFields = (l: Limits) => ({
  D: fc.integer({ min: 1, max: l.maxD }),
  V: fc.integer({ min: 1, max: l.maxV }),
  std: fc.constantFrom(1, 0.1, 4, 12),
  seed: fc.nat({ max: 2 ** 31 - 1 }),
  ignoreFraction: fc.constantFrom(0, 0.2, 0.5),
  junkShifted: fc.boolean(),
  bias: fc.boolean(),
  ignoreIndex: fc.constantFrom(undefined, -1, 'in vocab') as fc.Arbitrary<CceInput['ignoreIndex']>,
});

/** A shift of at least T is refused (nothing to predict): such a shift is brought below T. */
function shiftBelowT<X extends { leading: number[]; opts: Omit<Opts, 'ignoreIndex'> }>(x: X): X {
  const T = x.leading[x.leading.length - 1]!;
  const shift = x.opts.shift;
  return shift !== undefined && shift > 0 && shift >= T ? { ...x, opts: { ...x.opts, shift: T - 1 } } : x;
}

const cceArb = (l: Limits, inject: fc.Arbitrary<Injection[]>, opts = optsArb()): fc.Arbitrary<CceInput> =>
  flagsAllOrNone(l, fc.record({ leading: leadingArb(l.maxN), ...baseFields(l), opts, inject }).map(shiftBelowT));

const at = fc.nat({ max: 1 << 20 });
const injectionArb: fc.Arbitrary<Injection> = fc.oneof(
  fc.record({ kind: fc.constant('-inf in bias' as const), at }),
  fc.record({ kind: fc.constant('NaN in a row of e' as const), at, col: at }),
  fc.record({ kind: fc.constant('NaN in a row of c' as const), at, col: at }),
  fc.record({ kind: fc.constant('+inf' as const), in: fc.constantFrom('e' as const, 'c' as const, 'bias' as const), at }),
  fc.record({ kind: fc.constant('-inf' as const), in: fc.constantFrom('e' as const, 'c' as const), at }),
);

// ---- properties

const criterion = defineProperty<CceInput>({
  name: 'cce.criterion',
  about: 'finite values, every option: loss and gradients of e, c and bias by the CCE criterion against naive f64',
  arbitrary: (l) => cceArb(l, fc.constant([])),
  check: async (ctx, x) => { await criterionCheck(ctx, x); },
});

type DegenerateKind = 'N = 0' | 'B = 0' | 'T = 0' | 'D = 0' | 'V = 1' | 'one token' | 'every target ignored' | 'shift past the sequence';

const degenerate = defineProperty<CceInput & { degenerate: DegenerateKind }>({
  name: 'cce.degenerate',
  about: 'N = 0, D = 0, V = 1, one token, no valid token: the criterion, a NaN mean with zero gradients where no token counts, a shift of T or more refused alike',
  arbitrary: (l) => flagsAllOrNone(l, fc.record({
    degenerate: fc.constantFrom<DegenerateKind>('N = 0', 'B = 0', 'T = 0', 'D = 0', 'V = 1', 'one token', 'every target ignored', 'shift past the sequence'),
    B: fc.integer({ min: 1, max: 3 }),
    T: fc.integer({ min: 1, max: Math.max(1, Math.floor(l.maxN / 3)) }),
    rank2: fc.boolean(),
    extraShift: fc.integer({ min: 0, max: 1 }),
    ...baseFields(l),
    opts: optsArb(),
  }).map(({ degenerate, B, T, rank2, extraShift, ...rest }) => {
    const x: CceInput & { degenerate: DegenerateKind } = { ...rest, degenerate, leading: [B, T], inject: [], opts: { ...rest.opts } };
    if (degenerate === 'N = 0') x.leading = rank2 ? [B, 0] : [0];
    if (degenerate === 'B = 0') x.leading = [0, T];
    if (degenerate === 'T = 0') x.leading = [B, 0];
    if (degenerate === 'D = 0') x.D = 0;
    if (degenerate === 'V = 1') x.V = 1;
    if (degenerate === 'one token') x.leading = rank2 ? [1, 1] : [1];
    if (degenerate === 'every target ignored') x.ignoreFraction = 1;
    if (degenerate === 'shift past the sequence') x.opts.shift = T + extraShift;
    // Elsewhere a shift of T or more (T = 0 included) would be refused: not what these cases are about.
    return degenerate === 'shift past the sequence' ? x : shiftBelowT(x.leading[x.leading.length - 1] === 0 ? { ...x, opts: { ...x.opts, shift: undefined } } : x);
  })),
  check: async (ctx, x) => {
    const { b, ours } = await criterionCheck(ctx, x, x.degenerate === 'shift past the sequence');
    if (!ours || validTokens(b, x.V).some(Boolean)) return;
    // No valid token: expected semantics, whatever the truth says.
    await withCase(x, b, async () => {
      const reduction = b.opts.reduction ?? 'mean';
      const lossOk = reduction === 'mean' ? Number.isNaN(ours.loss[0]) : ours.loss.every((v) => v === 0);
      if (!lossOk) throw new Mismatch(`no valid token, reduction '${reduction}': the loss should be ${reduction === 'mean' ? 'NaN' : 'all 0'}, got ${brief(ours.loss)}`);
      for (const [name, g] of [['dE', ours.dE], ['dC', ours.dC], ['dBias', ours.dBias]] as const) {
        if (g && !g.every((v) => v === 0)) throw new Mismatch(`no valid token: ${name} should be all zero, got ${brief(g)}`);
      }
    });
  },
});

const nonFinite = defineProperty<CceInput>({
  name: 'cce.nonfinite',
  about: '-inf in the bias, NaN in a row of e or c, +inf or -inf somewhere: the criterion with classes compared exactly, NaN reaching the loss',
  arbitrary: (l) => cceArb(l, fc.array(injectionArb, { minLength: 1, maxLength: 2 })),
  check: async (ctx, x) => {
    const { b, ours: out } = await criterionCheck(ctx, x);
    const ours = out!;
    await withCase(x, b, async () => {
      const valid = validTokens(b, x.V);
      const reduction = b.opts.reduction ?? 'mean';
      // A NaN in the row of a counted token, or in c, reaches that token's loss.
      const nanTokens = new Set<number>();
      for (const j of x.inject) {
        if (j.kind === 'NaN in a row of e' && b.N > 0 && valid[j.at % b.N]) nanTokens.add(j.at % b.N);
        if (j.kind === 'NaN in a row of c') valid.forEach((v, i) => { if (v) nanTokens.add(i); });
      }
      for (const i of nanTokens) {
        const v = reduction === 'none' ? ours.loss[i]! : ours.loss[0]!;
        if (!Number.isNaN(v)) throw new Mismatch(`a NaN in the inputs of token ${i} should make ${reduction === 'none' ? `loss[${i}]` : 'the loss'} NaN, got ${v}`);
      }
      // softcap maps -inf to -softcap: with -inf in the bias as the only non-finite values, the loss is
      // finite (but for a mean over no valid token, NaN by definition).
      const onlyBias = x.inject.every((j) => j.kind === '-inf in bias');
      const emptyMean = reduction === 'mean' && !valid.some(Boolean);
      if (onlyBias && !emptyMean && (b.opts.softcap ?? 0) > 0 && !ours.loss.every(Number.isFinite)) {
        throw new Mismatch(`softcap ${b.opts.softcap} maps a -inf logit to -${b.opts.softcap}, so the loss should be finite, got ${brief(ours.loss)}`);
      }
    });
  },
});

const mask = defineProperty<CceInput>({
  name: 'cce.mask',
  about: 'a -inf bias masks vocabulary entries: same loss and gradients as the f64 truth without them, zero gradients for them',
  arbitrary: (l) => flagsAllOrNone(l, fc.record({
    leading: leadingArb(l.maxN),
    ...baseFields(l),
    V: fc.integer({ min: 2, max: l.maxV }),
    // An in-vocabulary ignoreIndex would name another entry once the masked ones are removed.
    ignoreIndex: fc.constantFrom(undefined, -1),
    bias: fc.constant(true),
    // Masked logits stay -inf only without softcap, and label smoothing averages over every entry.
    opts: optsArb({ softcap: false, smoothing: false }),
    inject: fc.constant<Injection[]>([]),
    mask: fc.record({ tail: fc.boolean(), count: fc.integer({ min: 1, max: l.maxV }) }),
  }).map(shiftBelowT), { softcap: false, smoothing: false }),
  check: async (ctx, x) => {
    const b = buildCce(x);
    await withCase(x, b, async () => {
      const keptRows = Array.from({ length: x.V }, (_, v) => v).filter((v) => !b.masked.includes(v));
      const index = new Map(keptRows.map((v, k) => [v, k]));
      const reduced = {
        V: keptRows.length,
        c: Float64Array.from(keptRows.flatMap((v) => Array.from(b.c.subarray(v * x.D, (v + 1) * x.D)))),
        bias: Float64Array.from(keptRows.map((v) => b.bias![v]!)),
        targets: Int32Array.from(b.targets, (t) => index.get(t) ?? t),
      };
      const truth = await withMapKernels(() => runCce('naive', ctx.truth, x, b, reduced));
      const naive = await withMapKernels(() => runCce('naive', ctx.backend, x, b));
      const ours = await runCce('fused', ctx.backend, x, b);
      const pickRows = (g: Float64Array, width: number) => Float64Array.from(keptRows.flatMap((v) => Array.from(g.subarray(v * width, (v + 1) * width))));
      const floors = roundingFloors(x, b);
      compareByCriterion('loss', ours.loss, naive.loss, truth.loss, LOSS_TOL, coords(truth.lossShape), floors.loss);
      compareByCriterion('dE', ours.dE, naive.dE, truth.dE, GRAD_TOL, coords([...x.leading, x.D]), floors.dE);
      compareByCriterion('dC (unmasked rows)', pickRows(ours.dC, x.D), pickRows(naive.dC, x.D), truth.dC, GRAD_TOL, (i) => `${keptRows[Math.floor(i / x.D)]}, ${i % x.D}`, pickRows(floors.dC, x.D));
      compareByCriterion('dBias (unmasked)', pickRows(ours.dBias!, 1), pickRows(naive.dBias!, 1), truth.dBias!, GRAD_TOL, (i) => String(keptRows[i]), pickRows(floors.dBias, 1));
      for (const v of b.masked) {
        const row = ours.dC.subarray(v * x.D, (v + 1) * x.D);
        if (!row.every((g) => g === 0)) throw new Mismatch(`dC row ${v} (masked) should be zero, got ${brief(row)}`);
        if (ours.dBias![v] !== 0) throw new Mismatch(`dBias[${v}] (masked) should be 0, got ${ours.dBias![v]}`);
      }
    });
  },
});

export const cceProperties: AnyProperty[] = [criterion, degenerate, nonFinite, mask];
