// Subgroup matrices in the CPU reference. A subgroup matrix belongs to a whole subgroup: every operation
// on one (fill, load, multiply-add, store) is collective, so the generated code yields a request at each
// (codegen.ts) and the lockstep scheduler (backend.ts) resolves it once for the subgroup, here. The value
// every invocation receives is the same whole matrix: no invocation can address one element, so the
// fragment layout stays opaque, as in WGSL. What WGSL leaves undefined is an error here: an operation
// reached by only part of a subgroup, or with arguments (offset, stride, fill value, operands) that
// differ between its invocations; a load or store that leaves its array.
//
// Arithmetic: a multiply-add computes each element exactly (products of f16 values are exact in
// float64, and so are short sums of them in practice) and rounds once to the result type: f16, or f32
// (not rounded in 'f64' mode, like every f32 result there). Tensor cores add in an order and with an
// internal precision of their own, so GPU results are compared with a tolerance, never bit for bit.
import { f16Round } from '../ir/f16.js';
import { type MatrixInfo, type MatrixType, matrixInfo } from '../ir/types.js';
import type { Precision } from './codegen.js';

/** The reference's subgroup-matrix value: the whole matrix, row-major, shared by the subgroup. */
export class SubgroupMatrix {
  constructor(readonly type: MatrixType, readonly info: MatrixInfo, readonly data: Float64Array) {}
}

type Memory = { data: ArrayLike<number> & { [i: number]: number }; label: string; offset: number; stride: number; colMajor: boolean };
export type MatrixRequest =
  | { op: 'fill'; type: MatrixType; value: number }
  | ({ op: 'load'; type: MatrixType } & Memory)
  | { op: 'multiplyAdd'; a: SubgroupMatrix; b: SubgroupMatrix; acc: SubgroupMatrix }
  | ({ op: 'store'; value: SubgroupMatrix } & Memory);

export interface MatrixContext {
  kernel: string;
  precision: Precision;
  /** The subgroup's size, and how many of its invocations made the request. */
  subgroupSize: number;
  where: string;
}

/** Resolves one collective subgroup-matrix operation; returns each invocation's result (the same one). */
export function resolveMatrix(reqs: MatrixRequest[], ctx: MatrixContext): (SubgroupMatrix | undefined)[] {
  const first = reqs[0]!;
  const fail = (msg: string): never => {
    throw new Error(`cpu: kernel '${ctx.kernel}': subgroup matrix ${first.op}: ${msg} (${ctx.where})`);
  };
  if (reqs.length !== ctx.subgroupSize) {
    fail(`reached by ${reqs.length} of the subgroup's ${ctx.subgroupSize} invocations: subgroup-matrix operations need the whole subgroup, in uniform control flow`);
  }
  const fields = Object.keys(first) as (keyof MatrixRequest)[];
  for (const r of reqs) {
    for (const f of fields) {
      if (!Object.is(r[f], first[f])) fail(`'${String(f)}' differs between the subgroup's invocations: it must be subgroup-uniform`);
    }
  }
  const round = (t: MatrixInfo['elem']) => (t === 'f16' ? f16Round : ctx.precision === 'f32' ? Math.fround : (x: number) => x);
  let result: SubgroupMatrix | undefined;
  switch (first.op) {
    case 'fill': {
      const info = matrixInfo(first.type)!;
      result = new SubgroupMatrix(first.type, info, new Float64Array(info.rows * info.cols).fill(round(info.elem)(first.value)));
      break;
    }
    case 'load': {
      const info = matrixInfo(first.type)!;
      const m = new Float64Array(info.rows * info.cols);
      forEachElement(info, first, fail, (i, at) => { m[i] = first.data[at]!; });
      result = new SubgroupMatrix(first.type, info, m);
      break;
    }
    case 'multiplyAdd': {
      const { a, b, acc } = first;
      const M = a.info.rows, K = a.info.cols, N = b.info.cols;
      const r = round(acc.info.elem);
      const out = new Float64Array(M * N);
      for (let i = 0; i < M; i++) {
        for (let j = 0; j < N; j++) {
          let s = acc.data[i * N + j]!;
          for (let k = 0; k < K; k++) s += a.data[i * K + k]! * b.data[k * N + j]!;
          out[i * N + j] = r(s);
        }
      }
      result = new SubgroupMatrix(acc.type, acc.info, out);
      break;
    }
    case 'store': {
      const v = first.value;
      forEachElement(v.info, first, fail, (i, at) => { first.data[at] = v.data[i]!; });
      break;
    }
  }
  return reqs.map(() => result);
}

/** Visits element i (row-major in the matrix) at its array index, after checking the whole span is inside. */
function forEachElement(info: MatrixInfo, m: Memory, fail: (msg: string) => never, visit: (i: number, at: number) => void): void {
  const { rows, cols } = info;
  const [major, minor] = m.colMajor ? [cols, rows] : [rows, cols];
  if (!Number.isInteger(m.offset) || m.offset < 0) fail(`offset ${m.offset} into '${m.label}' is negative`);
  if (m.stride < minor) fail(`stride ${m.stride} is below the ${minor} elements of a ${m.colMajor ? 'column' : 'row'}`);
  const last = m.offset + (major - 1) * m.stride + minor - 1;
  if (last >= m.data.length) {
    fail(`a ${rows}x${cols} matrix at offset ${m.offset} with stride ${m.stride} reaches element ${last} of '${m.label}' (length ${m.data.length})`);
  }
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) visit(r * cols + c, m.offset + (m.colMajor ? c * m.stride + r : r * m.stride + c));
  }
}
