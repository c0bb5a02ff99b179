// gradcheck: compares the tape's gradients with central differences, both computed in float64 on a
// private CPU reference backend, and reports the worst element against named tolerances.
import { CpuBackend } from './cpu/backend.js';
import { backward } from './autograd/tape.js';
import { noGrad } from './autograd/record.js';
import { scope } from './memory.js';
import { getBackendOrNull, setBackend } from './registry.js';
import { Tensor } from './tensor.js';
import { tensor } from './ops/creation.js';
import { mulberry32 } from './random.js';

export interface GradcheckOptions {
  /** Central-difference step (default 1e-6). */
  eps?: number;
  /** Pass when |analytic - numeric| <= atol + rtol * |numeric| for every element. */
  atol?: number;
  rtol?: number;
  /** Seed of the random projection of a non-scalar output. */
  seed?: number;
  /** Subgroup size of the reference interpreter (kernels with subgroup ops). */
  subgroupSize?: number;
  /** Check at most this many elements of each input, drawn at random (seeded); default all. */
  samples?: number;
}

export interface GradcheckWorst {
  input: number;
  index: number;
  analytic: number;
  numeric: number;
  error: number;
  tolerance: number;
}

export interface GradcheckResult {
  ok: boolean;
  /** Elements compared. */
  checked: number;
  /** The element with the largest error relative to its tolerance. */
  worst: GradcheckWorst | null;
  atol: number;
  rtol: number;
}

export const GRADCHECK_DEFAULTS = { eps: 1e-6, atol: 1e-7, rtol: 1e-5 } as const;

export function formatGradcheck(r: GradcheckResult): string {
  if (!r.worst) return `gradcheck: nothing to check`;
  const w = r.worst;
  return `gradcheck ${r.ok ? 'passed' : 'FAILED'}: ${r.checked} elements; worst input ${w.input} [${w.index}]: ` +
    `analytic ${w.analytic.toPrecision(10)}, numeric ${w.numeric.toPrecision(10)}, error ${w.error.toExponential(3)} ` +
    `(tolerance ${w.tolerance.toExponential(3)} = atol ${r.atol} + rtol ${r.rtol} * |numeric|)`;
}

/**
 * Checks the gradient of `fn` with respect to every f32 input (i32 inputs are held fixed). Inputs may
 * live on any backend; they are copied to a float64 reference. A non-scalar output is reduced by a
 * fixed random projection, so every output element takes part.
 */
export async function gradcheck(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], opts: GradcheckOptions = {}): Promise<GradcheckResult> {
  const eps = opts.eps ?? GRADCHECK_DEFAULTS.eps;
  const atol = opts.atol ?? GRADCHECK_DEFAULTS.atol;
  const rtol = opts.rtol ?? GRADCHECK_DEFAULTS.rtol;
  const ref = new CpuBackend({ precision: 'f64', subgroupSize: opts.subgroupSize });
  const previous = getBackendOrNull();
  setBackend(ref);
  try {
    return await scope(async () => {
      const hostInputs = await Promise.all(inputs.map(async (t) => Float64Array.from(await t.read())));
      const xs = inputs.map((t, i) => {
        const x = tensor(hostInputs[i]!, t.shape, { dtype: t.dtype, backend: ref });
        x.requiresGrad = t.dtype === 'f32';
        return x;
      });
      const out = fn(...xs);
      const rng = mulberry32(opts.seed ?? 1234);
      const projection = Float64Array.from({ length: out.size }, () => rng() * 2 - 1);
      backward(out, tensor(projection, out.shape, { backend: ref }));
      const project = async (y: Tensor) => {
        const v = await y.read();
        let s = 0;
        for (let i = 0; i < v.length; i++) s += v[i]! * projection[i]!;
        return s;
      };
      let worst: GradcheckWorst | null = null;
      let worstRatio = -1;
      let checked = 0;
      for (let i = 0; i < xs.length; i++) {
        const x = xs[i]!;
        if (!x.requiresGrad) continue;
        const analytic = x.grad ? await x.grad.read() : new Float64Array(x.size);
        const host = hostInputs[i]!;
        for (const j of sampleIndices(x.size, opts.samples, rng)) {
          const orig = host[j]!;
          const evalAt = async (v: number) => {
            host[j] = v;
            ref.write(x.buffer, host);
            return scope(() => noGrad(() => project(fn(...xs))));
          };
          const numeric = ((await evalAt(orig + eps)) - (await evalAt(orig - eps))) / (2 * eps);
          host[j] = orig;
          ref.write(x.buffer, host);
          const a = analytic[j]!;
          const error = Math.abs(a - numeric);
          const tolerance = atol + rtol * Math.abs(numeric);
          checked++;
          const ratio = Number.isNaN(error) ? Infinity : error / tolerance;
          if (ratio > worstRatio) {
            worstRatio = ratio;
            worst = { input: i, index: j, analytic: a, numeric, error, tolerance };
          }
        }
      }
      for (const x of xs) x.grad?.dispose();
      return { ok: worstRatio <= 1, checked, worst, atol, rtol };
    });
  } finally {
    setBackend(previous);
  }
}

/** All of [0, n) in order, or `k` distinct indices of it drawn by `rng` (a partial Fisher-Yates shuffle). */
function sampleIndices(n: number, k: number | undefined, rng: () => number): number[] {
  const all = Array.from({ length: n }, (_, i) => i);
  if (k === undefined || k >= n) return all;
  if (!Number.isInteger(k) || k < 1) throw new Error(`gradcheck: samples must be a positive integer, got ${k}`);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rng() * (n - i));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return all.slice(0, k).sort((a, b) => a - b);
}
