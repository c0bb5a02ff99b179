// Comparisons of the fuzz suite: non-finite values are compared exactly by class (NaN where the truth is
// NaN, the same infinity where it is infinite, a finite value where it is finite), finite values within a
// tolerance scaled by the largest finite magnitude of the truth.

/** A property violation: reported by its message alone (its own stack says nothing about the bug). */
export class Mismatch extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Mismatch';
    this.stack = `Mismatch: ${message}`;
  }
}

/** An error thrown by the code under test: its message and the top of its stack. */
export function thrown(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const frames = (err.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l)).slice(0, 4).map((l) => `\n      ${l.trim()}`);
  return `${err.message}${frames.join('')}`;
}

const fmtNum = (x: number) => (Number.isFinite(x) && x !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e4) ? x.toExponential(4) : String(x));

/** The largest finite |x| (0 when there is none). */
export function finiteScale(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) if (Number.isFinite(xs[i]!)) s = Math.max(s, Math.abs(xs[i]!));
  return s;
}

/** '' when `got` has the class of `want`, else what differs. */
function classMismatch(got: number, want: number): string {
  if (Number.isNaN(want)) return Number.isNaN(got) ? '' : 'expected NaN';
  if (want === Infinity || want === -Infinity) return got === want ? '' : `expected ${want}`;
  return Number.isFinite(got) ? '' : 'expected a finite value';
}

function checkLength(what: string, got: ArrayLike<number>, want: ArrayLike<number>): void {
  if (got.length !== want.length) throw new Mismatch(`${what}: ${got.length} elements, expected ${want.length}`);
}

/**
 * Elementwise against a float64 truth: |got - want| <= atol + rtol * max finite |want| where `want` is
 * finite, the same class where it is not. `index` names an element (e.g. as coordinates).
 */
export function compareToTruth(what: string, got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, atol: number, index: (i: number) => string = String): void {
  checkLength(what, got, want);
  const tol = atol + rtol * finiteScale(want);
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    const cls = classMismatch(g, w);
    if (cls) throw new Mismatch(`${what}[${index(i)}] is ${fmtNum(g)}, truth ${fmtNum(w)}: ${cls}`);
    if (Number.isFinite(w) && !(Math.abs(g - w) <= tol)) {
      throw new Mismatch(`${what}[${index(i)}] is ${fmtNum(g)}, truth ${fmtNum(w)}: error ${Math.abs(g - w).toExponential(3)} > tolerance ${tol.toExponential(3)}`);
    }
  }
}

/**
 * The official CCE criterion, elementwise: |ours - truth| <= |naive - truth| + relTol * max finite |truth|
 * (the tolerances are tests/support/cce-criterion.ts's). Where the truth is not finite, ours must have
 * its class; where the naive f32 result is not finite but the truth is, the naive path earns no slack.
 * `floor` (per element) raises tol where an element is rounding residue (see cce-properties.ts).
 */
export function compareByCriterion(what: string, ours: ArrayLike<number>, naive: ArrayLike<number>, truth: ArrayLike<number>, relTol: number, index: (i: number) => string = String, floor?: ArrayLike<number>): void {
  checkLength(what, ours, truth);
  checkLength(`${what} (naive)`, naive, truth);
  const tol = relTol * finiteScale(truth);
  for (let i = 0; i < truth.length; i++) {
    const o = ours[i]!;
    const t = truth[i]!;
    const n = naive[i]!;
    const cls = classMismatch(o, t);
    if (cls) throw new Mismatch(`${what}[${index(i)}] is ${fmtNum(o)}, truth ${fmtNum(t)} (naive f32 ${fmtNum(n)}): ${cls}`);
    if (!Number.isFinite(t)) continue;
    const err = Math.abs(o - t);
    const allowed = (Number.isFinite(n) ? Math.abs(n - t) : 0) + Math.max(tol, floor?.[i] ?? 0);
    if (!(err <= allowed)) {
      throw new Mismatch(`${what}[${index(i)}] is ${fmtNum(o)}, truth ${fmtNum(t)} (naive f32 ${fmtNum(n)}): |ours - truth| = ${err.toExponential(3)} > |naive - truth| + tol = ${allowed.toExponential(3)}`);
    }
  }
}

/** Coordinates of flat index i in `shape`, as "i, j, k". */
export function coords(shape: readonly number[]): (i: number) => string {
  return (i) => {
    if (shape.length <= 1) return String(i);
    const out: number[] = [];
    let r = i;
    for (let k = shape.length - 1; k >= 0; k--) {
      const d = shape[k]!;
      out.unshift(d ? r % d : 0);
      r = d ? Math.floor(r / d) : 0;
    }
    return out.join(', ');
  };
}

/** A short rendering of an array for messages: all of it when small, else its length. */
export function brief(xs: ArrayLike<number>, max = 24): string {
  if (xs.length > max) return `(${xs.length} values)`;
  return `[${Array.from(xs, (x) => (Number.isInteger(x) ? String(x) : Number.isFinite(x) ? x.toPrecision(4) : String(x))).join(', ')}]`;
}
