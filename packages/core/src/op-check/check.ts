// Checking a registered op on a backend: its forward and its VJP (backward of a random output gradient)
// against the float64 reference on the same seeded inputs, and, on the reference, its VJP against central
// differences (gradcheck). Each check gives a row naming the op, the backend, what was compared and the
// worst element, so a failure says where to look.
import type { Backend } from '../backend.js';
import { CpuBackend } from '../cpu/backend.js';
import { backward } from '../autograd/tape.js';
import { scope } from '../memory.js';
import { getBackendOrNull, setBackend } from '../registry.js';
import { tensor } from '../ops/creation.js';
import { mulberry32 } from '../random.js';
import { gradcheck } from '../gradcheck.js';
import { type OpCase, hostInput } from './cases.js';

export const OP_CHECK_RTOL = 2e-5;
export const OP_CHECK_ATOL = 1e-6;

export interface OpCheckRow {
  op: string;
  backend: string;
  /** 'forward', 'grad of input i', or 'gradcheck' (the reference's VJP against central differences). */
  what: string;
  shapes: number[][];
  ok: boolean;
  maxAbsError: number;
  maxRelError: number;
  /** The worst element (index into the compared array) and its values, or the error that stopped the check. */
  detail: string;
}

export interface OpRun {
  output: ArrayLike<number>;
  grads: (ArrayLike<number> | null)[];
}

/** Runs an op case on `backend` on host inputs; with `outGrad`, also its backward. Leaves nothing behind. */
export async function runOpCase(backend: Backend, c: OpCase, data: (Float64Array | Int32Array)[], outGrad: Float64Array | null): Promise<OpRun> {
  return scope(async () => {
    const xs = c.inputs.map((spec, i) => {
      const t = tensor(data[i]!, spec.shape, { dtype: spec.dtype ?? 'f32', backend });
      t.requiresGrad = (c.grad ?? true) && (spec.dtype ?? 'f32') === 'f32';
      return t;
    });
    const prev = getBackendOrNull();
    setBackend(backend);
    try {
      const y = c.fn(...xs);
      const output = await y.read();
      const grads: (ArrayLike<number> | null)[] = [];
      if (outGrad) {
        backward(y, tensor(outGrad, y.shape, { backend }));
        for (const x of xs) {
          grads.push(x.grad ? await x.grad.read() : null);
          x.grad?.dispose();
        }
      }
      return { output, grads };
    } finally {
      setBackend(prev);
    }
  });
}

/** The worst element of `got` against `want`, with the tolerance scaled by want's largest magnitude. */
export function compareToReference(got: ArrayLike<number>, want: ArrayLike<number>, rtol = OP_CHECK_RTOL, atol = OP_CHECK_ATOL):
  { ok: boolean; maxAbsError: number; maxRelError: number; detail: string } {
  if (got.length !== want.length) return { ok: false, maxAbsError: Infinity, maxRelError: Infinity, detail: `${got.length} elements, expected ${want.length}` };
  // The tolerance scales with the finite reference values; a non-finite one must be matched exactly
  // (NaN by NaN, an infinity by the same infinity), or the error is infinite.
  let scale = 0;
  for (let i = 0; i < want.length; i++) if (Number.isFinite(want[i]!)) scale = Math.max(scale, Math.abs(want[i]!));
  const tol = atol + rtol * scale;
  let worst = 0;
  let maxAbs = 0;
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const g = got[i]!;
    const e = Number.isFinite(w) ? (Number.isFinite(g) ? Math.abs(g - w) : Infinity) : Object.is(g, w) || (Number.isNaN(g) && Number.isNaN(w)) ? 0 : Infinity;
    if (e > maxAbs) {
      maxAbs = e;
      worst = i;
    }
  }
  const ok = want.length === 0 || maxAbs <= tol;
  const detail = want.length === 0 ? 'empty' : `element ${worst}: ${got[worst]} vs reference ${want[worst]} (tolerance ${tol.toExponential(2)})`;
  return { ok, maxAbsError: maxAbs, maxRelError: scale ? maxAbs / scale : maxAbs, detail };
}

/** The op's forward and input gradients on `backend` against the f64 reference (one row each). */
export async function checkOpOnBackend(c: OpCase, backend: Backend, opts: { seed?: number } = {}): Promise<OpCheckRow[]> {
  const shapes = c.inputs.map((s) => s.shape);
  const row = (what: string, r: ReturnType<typeof compareToReference>): OpCheckRow => ({ op: c.name, backend: backend.name, what, shapes, ...r });
  const failed = (what: string, e: unknown): OpCheckRow[] =>
    [{ op: c.name, backend: backend.name, what, shapes, ok: false, maxAbsError: Infinity, maxRelError: Infinity, detail: `threw: ${(e as Error)?.message?.split('\n')[0] ?? e}` }];
  const rng = mulberry32(opts.seed ?? 99);
  const data = c.inputs.map((spec) => hostInput(spec, rng));
  const reference = new CpuBackend({ precision: 'f64' });
  let want: OpRun;
  let outGrad: Float64Array | null = null;
  try {
    const refOut = await runOpCase(reference, c, data, null);
    outGrad = (c.grad ?? true) ? Float64Array.from({ length: refOut.output.length }, () => rng() * 2 - 1) : null;
    want = await runOpCase(reference, c, data, outGrad);
  } catch (e) {
    return failed('the f64 reference run', e);
  } finally {
    reference.destroy();
  }
  let got: OpRun;
  try {
    got = await runOpCase(backend, c, data, outGrad);
  } catch (e) {
    return failed('forward and backward', e);
  }
  const rows = [row('forward', compareToReference(got.output, want.output, c.rtol, c.atol))];
  want.grads.forEach((g, i) => {
    if (!g) return;
    const mine = got.grads[i];
    rows.push(mine ? row(`grad of input ${i}`, compareToReference(mine, g, c.rtol, c.atol))
      : { op: c.name, backend: backend.name, what: `grad of input ${i}`, shapes, ok: false, maxAbsError: Infinity, maxRelError: Infinity, detail: 'no gradient' });
  });
  return rows;
}

/** The reference's VJP against central differences (float64), on at most `samples` elements of each input;
 *  null for an op without a gradient. */
export async function checkOpReference(c: OpCase, opts: { seed?: number; samples?: number } = {}): Promise<OpCheckRow | null> {
  if (c.grad === false) return null;
  const shapes = c.inputs.map((s) => s.shape);
  const base = { op: c.name, backend: 'cpu:f64', what: 'gradcheck', shapes };
  const rng = mulberry32(opts.seed ?? 99);
  const data = c.inputs.map((spec) => hostInput(spec, rng));
  const ref = new CpuBackend({ precision: 'f64' });
  try {
    const xs = c.inputs.map((spec, i) => tensor(data[i]!, spec.shape, { dtype: spec.dtype ?? 'f32', backend: ref }));
    const r = await gradcheck(c.fn, xs, { seed: opts.seed, samples: opts.samples });
    for (const x of xs) x.dispose();
    const w = r.worst;
    return {
      ...base, ok: r.ok, maxAbsError: w?.error ?? 0, maxRelError: w ? w.error / Math.max(Math.abs(w.numeric), 1e-300) : 0,
      detail: w ? `input ${w.input} element ${w.index}: analytic ${w.analytic.toPrecision(8)}, numeric ${w.numeric.toPrecision(8)} (${r.checked} elements)` : 'no f32 input',
    };
  } catch (e) {
    return { ...base, ok: false, maxAbsError: Infinity, maxRelError: Infinity, detail: `threw: ${(e as Error)?.message?.split('\n')[0] ?? e}` };
  } finally {
    ref.destroy();
  }
}
