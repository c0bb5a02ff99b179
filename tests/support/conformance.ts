// Conformance of a backend against the float64 CPU reference: every op case's forward output and the
// gradients of its inputs (through backward with a random output gradient) must match within a
// tolerance scaled by the reference's largest magnitude.
import { suite } from 'uvu';
import * as C from '@cce/core';
import { type Backend, type OpCase, type Tensor, builtinOpCases as opCases, hostInput, runOpCase as runCase } from '@cce/core';


/** f32 against f64: relative to the largest reference magnitude (plus a floor for all-zero outputs). */
export const CONFORMANCE_RTOL = 2e-5;
export const CONFORMANCE_ATOL = 1e-6;

export function compareArrays(what: string, got: ArrayLike<number>, want: ArrayLike<number>, rtol = CONFORMANCE_RTOL, atol = CONFORMANCE_ATOL): void {
  if (got.length !== want.length) throw new Error(`${what}: ${got.length} elements, expected ${want.length}`);
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]!));
  const tol = atol + rtol * scale;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i]! - want[i]!);
    if (!(err <= tol)) {
      throw new Error(`${what}: element ${i} is ${got[i]}, reference ${want[i]} (error ${err.toExponential(3)} > tolerance ${tol.toExponential(3)})`);
    }
  }
}

export interface ConformanceOptions {
  /** Cases to run (default: all). */
  filter?: (c: OpCase) => boolean;
  seed?: number;
  rtol?: number;
}

/** Registers a uvu suite comparing `makeBackend()` with the float64 reference on every op case. */
export function conformanceSuite(name: string, makeBackend: () => Promise<Backend>, opts: ConformanceOptions = {}) {
  const s = suite(name);
  let backend: Backend;
  const reference = new C.CpuBackend({ precision: 'f64' });
  s.before(async () => {
    backend = await makeBackend();
  });
  for (const [ci, c] of opCases.filter(opts.filter ?? (() => true)).entries()) {
    s(c.name, async () => {
      const rng = C.mulberry32((opts.seed ?? 99) + ci);
      const data = c.inputs.map((spec) => hostInput(spec, rng));
      const live = backend.memory().liveBuffers;
      const refOut = await runCase(reference, c, data, null);
      const outGrad = (c.grad ?? true) ? Float64Array.from({ length: refOut.output.length }, () => rng() * 2 - 1) : null;
      const want = await runCase(reference, c, data, outGrad);
      const got = await runCase(backend, c, data, outGrad);
      compareArrays(`${c.name} forward on ${backend.name}`, got.output, want.output, opts.rtol);
      want.grads.forEach((g, i) => {
        if (!g) return;
        if (!got.grads[i]) throw new Error(`${c.name}: no gradient for input ${i} on ${backend.name}`);
        compareArrays(`${c.name} gradient of input ${i} on ${backend.name}`, got.grads[i]!, g, opts.rtol);
      });
      if (backend.memory().liveBuffers !== live) {
        throw new Error(`${c.name}: ${backend.memory().liveBuffers - live} buffers leaked on ${backend.name}`);
      }
    });
  }
  return s;
}

export type { Tensor };
