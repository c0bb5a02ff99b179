// Core-op properties: a handful of ops (elementwise with broadcasting, reductions over random axes,
// matmul with transposes and batches, softmax / logSoftmax, gather / pick, crossEntropy) at random shapes,
// 0 and 1 included, with +inf, -inf and NaN injected in chosen positions: the output and the tape's
// gradients on the backend under test against the float64 reference's, with f32 tolerances and
// non-finite values compared by class. An input the reference refuses must be refused with the same error.
import * as fc from 'fast-check';
import * as C from '@cce/core';
import type { Backend, Tensor } from '@cce/core';
import { CONFORMANCE_ATOL, CONFORMANCE_RTOL } from '../support/conformance.js';
import { Mismatch, brief, compareToTruth, coords, thrown } from './compare.js';
import { type AnyProperty, type FuzzContext, type Limits, defineProperty, withMapKernels } from './property.js';

/** f32 against f64, relative to the largest finite reference magnitude (tests/support/conformance.ts's). */
const RTOL = CONFORMANCE_RTOL;
const ATOL = CONFORMANCE_ATOL;

interface Special {
  /** Which float input (modulo their count), and which element of it (modulo its size). */
  input: number;
  at: number;
  value: number;
}

/** Values of the float inputs. */
interface Values {
  seed: number;
  /** Standard deviation of the normal values. */
  std: number;
  /** Rounded to multiples of 1/2, so that maxima tie. */
  ties: boolean;
  specials: Special[];
}

interface InputSpec {
  shape: number[];
  dtype?: 'f32' | 'i32';
  /** i32: values in [0, high); f32: the domain. */
  high?: number;
  positive?: boolean;
  /** i32 entries replaced by `ignore` with probability `ignoreFraction`. */
  ignore?: number;
  ignoreFraction?: number;
}

interface OpRun {
  /** What runs, readable: op, shapes, attributes. */
  label: string;
  inputs: InputSpec[];
  fn: (...xs: Tensor[]) => Tensor;
}

/** An OpRun that prints as its label in counterexamples. */
const opRun = (label: string, inputs: InputSpec[], fn: OpRun['fn']): OpRun => ({ label, inputs, fn, [fc.toStringMethod]: () => label }) as OpRun;

const prod = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);

function normal(rng: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
}

function makeData(run: OpRun, v: Values): { data: (Float64Array | Int32Array)[]; notes: string[] } {
  const rng = C.mulberry32(v.seed);
  const data = run.inputs.map((s) => {
    const n = prod(s.shape);
    if (s.dtype === 'i32') return Int32Array.from({ length: n }, () => (rng() < (s.ignoreFraction ?? 0) ? s.ignore! : Math.floor(rng() * s.high!)));
    return Float64Array.from({ length: n }, () => {
      let x = normal(rng) * v.std;
      if (v.ties) x = Math.round(x * 2) / 2;
      if (s.positive) x = Math.abs(x) + 0.25;
      return Math.fround(x);
    });
  });
  const floats = run.inputs.map((s, i) => (s.dtype === 'i32' ? -1 : i)).filter((i) => i >= 0);
  const notes: string[] = [];
  for (const sp of v.specials) {
    if (!floats.length) break;
    const k = floats[sp.input % floats.length]!;
    const arr = data[k]!;
    if (!arr.length) continue;
    const i = sp.at % arr.length;
    arr[i] = sp.value;
    notes.push(`input ${k}[${coords(run.inputs[k]!.shape)(i)}] = ${sp.value}`);
  }
  return { data, notes };
}

interface Result {
  output: Float64Array;
  shape: number[];
  grads: (Float64Array | null)[];
}

async function runOp(backend: Backend, run: OpRun, data: (Float64Array | Int32Array)[], outGradSeed: number): Promise<Result> {
  const prev = C.getBackendOrNull();
  C.setBackend(backend);
  try {
    return await C.scope(async () => {
      const xs = run.inputs.map((s, i) => {
        const t = C.tensor(data[i]!, s.shape, { dtype: s.dtype ?? 'f32', backend });
        t.requiresGrad = (s.dtype ?? 'f32') === 'f32';
        return t;
      });
      const y = run.fn(...xs);
      const output = Float64Array.from(await y.read());
      const rng = C.mulberry32(outGradSeed);
      const g = Float64Array.from({ length: y.size }, () => Math.fround(rng() * 2 - 1));
      C.backward(y, C.tensor(g, y.shape, { backend }));
      const grads: (Float64Array | null)[] = [];
      for (const x of xs) {
        grads.push(x.grad ? Float64Array.from(await x.grad.read()) : null);
        x.grad?.dispose();
        x.grad = null;
      }
      return { output, shape: [...y.shape], grads };
    });
  } finally {
    C.setBackend(prev);
  }
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** The op on the backend against the reference: same error, or same shape, output and gradients. */
async function checkOp(ctx: FuzzContext, run: OpRun, v: Values): Promise<void> {
  const { data, notes } = makeData(run, v);
  const context = () => {
    const inputs = run.inputs.map((s, i) => `input ${i} ${s.dtype ?? 'f32'} [${s.shape.join(', ')}] ${brief(data[i]!, 12)}`);
    return `\n    case: ${run.label}; ${inputs.join('; ')}; value seed ${v.seed}, std ${v.std}${v.ties ? ', ties' : ''}${notes.length ? `; injected: ${notes.join(', ')}` : ''}`;
  };
  let want: Result | null = null;
  let refusal: string | null = null;
  try {
    want = await withMapKernels(() => runOp(ctx.truth, run, data, v.seed + 1));
  } catch (err) {
    refusal = message(err);
  }
  const live = ctx.backend.memory().liveBuffers;
  let got: Result | null = null;
  try {
    got = await runOp(ctx.backend, run, data, v.seed + 1);
  } catch (err) {
    if (refusal === null) throw new Mismatch(`threw on ${ctx.backend.name} where the reference did not: ${thrown(err)}${context()}`);
    if (message(err) !== refusal) throw new Mismatch(`threw '${message(err)}' on ${ctx.backend.name}, the reference '${refusal}'${context()}`);
  }
  if (refusal !== null && got) throw new Mismatch(`the reference threw '${refusal}', ${ctx.backend.name} did not${context()}`);
  const leaked = ctx.backend.memory().liveBuffers - live;
  if (leaked) throw new Mismatch(`${leaked} buffers leaked on ${ctx.backend.name}${context()}`);
  if (!want || !got) return;
  try {
    if (got.shape.join() !== want.shape.join()) throw new Mismatch(`output shape [${got.shape}], reference [${want.shape}]`);
    compareToTruth('output', got.output, want.output, RTOL, ATOL, coords(want.shape));
    want.grads.forEach((w, i) => {
      if (!w) return;
      const g = got!.grads[i];
      if (!g) throw new Mismatch(`no gradient for input ${i}`);
      compareToTruth(`gradient of input ${i}`, g, w, RTOL, ATOL, coords(run.inputs[i]!.shape));
    });
  } catch (err) {
    throw new Mismatch(`${message(err)}${context()}`);
  }
}

// ---- arbitraries

const valuesArb: fc.Arbitrary<Values> = fc.record({
  seed: fc.nat({ max: 2 ** 31 - 1 }),
  std: fc.constantFrom(1, 0.1, 3),
  ties: fc.boolean(),
  specials: fc.array(fc.record({ input: fc.nat({ max: 3 }), at: fc.nat({ max: 1 << 20 }), value: fc.constantFrom(Infinity, -Infinity, NaN) }), { maxLength: 2 }),
});

/** A dimension: 0 now and then, 1 often, else up to max. */
const dimArb = (max: number) => fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.constant(1) }, { weight: 7, arbitrary: fc.integer({ min: 2, max }) });
const shapeArb = (l: Limits, minRank: number, maxRank: number) => fc.array(dimArb(l.maxDim), { minLength: minRank, maxLength: maxRank });

/** `shape` with some leading axes dropped and some others set to 1: broadcasts to `shape`. */
const broadcastArb = (shape: number[]) =>
  fc.tuple(fc.integer({ min: 0, max: shape.length }), fc.array(fc.boolean(), { minLength: shape.length, maxLength: shape.length }))
    .map(([drop, ones]) => shape.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d)));

const unaries = ['neg', 'exp', 'log', 'sqrt', 'rsqrt', 'tanh', 'abs', 'relu', 'sigmoid', 'gelu'] as const;
const binaries = ['add', 'sub', 'mul', 'div', 'maximum', 'minimum'] as const;
const positiveDomain = new Set(['log', 'sqrt', 'rsqrt']);

const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;

const elementwise = defineProperty<{ run: OpRun; values: Values }>({
  name: 'core.elementwise',
  about: 'unary and binary elementwise ops with broadcasting, forward and gradients against f64',
  arbitrary: (l) => fc.record({
    op: fc.constantFrom<string>(...binaries, ...unaries),
    shape: shapeArb(l, 0, 4),
    swap: fc.boolean(),
  }).chain(({ op, shape, swap }) => fc.record({
    run: (unaries as readonly string[]).includes(op)
      ? fc.constant(opRun(`${op}(x ${fmt(shape)})`, [{ shape, positive: positiveDomain.has(op) }], (x) => (C as unknown as Record<string, (t: Tensor) => Tensor>)[op]!(x)))
      : broadcastArb(shape).map((other): OpRun => {
        const [sa, sb] = swap ? [other, shape] : [shape, other];
        return opRun(`${op}(a ${fmt(sa)}, b ${fmt(sb)})`, [{ shape: sa }, { shape: sb, positive: op === 'div' }], (a, b) => (C as unknown as Record<string, (a: Tensor, b: Tensor) => Tensor>)[op]!(a, b));
      }),
    values: valuesArb,
  })),
  check: (ctx, x) => checkOp(ctx, x.run, x.values),
});

const reduce = defineProperty<{ run: OpRun; values: Values }>({
  name: 'core.reduce',
  about: 'sum, max, mean and logsumexp over random axes (keepDims or not), forward and gradients against f64',
  arbitrary: (l) => fc.record({
    op: fc.constantFrom('sum', 'max', 'mean', 'logsumexp'),
    shape: shapeArb(l, 0, 4),
    pick: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
    all: fc.boolean(),
    negative: fc.boolean(),
    axis: fc.nat(),
    keepDims: fc.boolean(),
    values: valuesArb,
  }).map(({ op, shape, pick, all, negative, axis, keepDims, values }) => {
    const rank = shape.length;
    const sign = (a: number) => (negative ? a - rank : a);
    let run: OpRun;
    if (op === 'logsumexp' || rank === 0) {
      if (op === 'logsumexp' && rank === 0) shape = [1 + (axis % 3)];
      const a = sign(axis % shape.length);
      run = op === 'logsumexp'
        ? opRun(`logsumexp(x ${fmt(shape)}, axis ${a}, keepDims ${keepDims})`, [{ shape }], (x) => C.logsumexp(x, a, { keepDims }))
        : opRun(`${op}(x ${fmt(shape)}, all axes, keepDims ${keepDims})`, [{ shape }], (x) => reduceFn(op, x, undefined, keepDims));
    } else {
      const axes = all ? undefined : shape.map((_, i) => i).filter((i) => pick[i]).map(sign);
      run = opRun(`${op}(x ${fmt(shape)}, axes ${axes ? fmt(axes) : 'all'}, keepDims ${keepDims})`, [{ shape }], (x) => reduceFn(op, x, axes, keepDims));
    }
    return { run, values };
  }),
  check: (ctx, x) => checkOp(ctx, x.run, x.values),
});

function reduceFn(op: string, x: Tensor, axes: number[] | undefined, keepDims: boolean): Tensor {
  if (op === 'sum') return C.sum(x, axes, { keepDims });
  if (op === 'max') return C.max(x, axes, { keepDims });
  return C.mean(x, axes, { keepDims });
}

const batchShapes: number[][] = [[], [3], [2, 3]];

const matmul = defineProperty<{ run: OpRun; values: Values }>({
  name: 'core.matmul',
  about: 'matmul with transposes and broadcast batches, forward and gradients against f64',
  arbitrary: (l) => fc.record({
    M: dimArb(l.maxDim * 2),
    K: dimArb(l.maxDim * 2),
    N: dimArb(l.maxDim * 2),
    transA: fc.boolean(),
    transB: fc.boolean(),
    batch: fc.constantFrom(...batchShapes),
    swap: fc.boolean(),
  }).chain(({ M, K, N, transA, transB, batch, swap }) => fc.record({
    run: broadcastArb(batch).map((other): OpRun => {
      const [ba, bb] = swap ? [other, batch] : [batch, other];
      const sa = [...ba, ...(transA ? [K, M] : [M, K])];
      const sb = [...bb, ...(transB ? [N, K] : [K, N])];
      return opRun(`matmul(a ${fmt(sa)}, b ${fmt(sb)}, transA ${transA}, transB ${transB})`, [{ shape: sa }, { shape: sb }], (a, b) => C.matmul(a, b, { transA, transB }));
    }),
    values: valuesArb,
  })),
  check: (ctx, x) => checkOp(ctx, x.run, x.values),
});

const softmax = defineProperty<{ run: OpRun; values: Values }>({
  name: 'core.softmax',
  about: 'softmax and logSoftmax over a random axis, forward and gradients against f64',
  arbitrary: (l) => fc.record({
    op: fc.constantFrom('softmax', 'logSoftmax'),
    shape: shapeArb(l, 1, 3),
    axis: fc.nat(),
    negative: fc.boolean(),
    values: valuesArb,
  }).map(({ op, shape, axis, negative, values }) => {
    const a = (axis % shape.length) - (negative ? shape.length : 0);
    const run: OpRun = opRun(`${op}(x ${fmt(shape)}, axis ${a})`, [{ shape }], (x) => (op === 'softmax' ? C.softmax(x, a) : C.logSoftmax(x, a)));
    return { run, values };
  }),
  check: (ctx, x) => checkOp(ctx, x.run, x.values),
});

const indexOps = defineProperty<{ run: OpRun; values: Values }>({
  name: 'core.index',
  about: 'gather rows and pick columns with valid indices, forward and gradients against f64',
  arbitrary: (l) => fc.record({
    op: fc.constantFrom('gather', 'pick'),
    rows: fc.integer({ min: 1, max: l.maxDim }),
    rest: shapeArb(l, 0, 2),
    ids: shapeArb(l, 0, 2),
    values: valuesArb,
  }).map(({ op, rows, rest, ids, values }) => {
    const run: OpRun = op === 'gather'
      ? opRun(`gather(table ${fmt([rows, ...rest])}, ids ${fmt(ids)})`, [{ shape: [rows, ...rest] }, { shape: ids, dtype: 'i32', high: rows }], (t, i) => C.gather(t, i))
      : opRun(`pick(x ${fmt([...ids, rows])}, ids ${fmt(ids)})`, [{ shape: [...ids, rows] }, { shape: ids, dtype: 'i32', high: rows }], (x, i) => C.pick(x, i));
    return { run, values };
  }),
  check: (ctx, x) => checkOp(ctx, x.run, x.values),
});

const crossEntropy = defineProperty<{ run: OpRun; values: Values }>({
  name: 'core.crossEntropy',
  about: 'crossEntropy with ignored targets and every reduction, forward and gradients against f64',
  arbitrary: (l) => fc.record({
    N: fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 9, arbitrary: fc.integer({ min: 1, max: l.maxN }) }),
    V: fc.integer({ min: 1, max: l.maxV }),
    reduction: fc.constantFrom(undefined, 'mean', 'sum', 'none') as fc.Arbitrary<'mean' | 'sum' | 'none' | undefined>,
    ignoreIndex: fc.constantFrom(undefined, -1),
    ignoreFraction: fc.constantFrom(0, 0.2, 1),
    values: valuesArb,
  }).map(({ N, V, reduction, ignoreIndex, ignoreFraction, values }) => {
    const opts = { ...(reduction ? { reduction } : {}), ...(ignoreIndex === undefined ? {} : { ignoreIndex }) };
    const run = opRun(
      `crossEntropy(logits [${N}, ${V}], targets [${N}], ${JSON.stringify(opts)}, ${ignoreFraction * 100}% ignored)`,
      [{ shape: [N, V] }, { shape: [N], dtype: 'i32', high: V, ignore: ignoreIndex ?? -100, ignoreFraction }],
      (x, t) => C.crossEntropy(x, t, opts),
    );
    return { run, values };
  }),
  check: (ctx, x) => checkOp(ctx, x.run, x.values),
});

export const coreProperties: AnyProperty[] = [elementwise, reduce, matmul, softmax, indexOps, crossEntropy];
