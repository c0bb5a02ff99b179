// The validator's rules for subgroup matrices (validate.ts calls them): matrix types are well formed;
// fills take a scalar of the element type; loads and stores address a buffer or workgroup array of the
// element type, with i32 or u32 offsets and strides and a constant stride no shorter than a row (or a
// column); a multiply-add takes left (M x K), right (K x N) and result (M x N) matrices of one element
// type (f16, or f32 accumulating in f32) and records the configuration, which a backend must offer.
import type { BufferDecl, Capability, Expr, MatrixInfo, SharedDecl, Stmt, SubgroupMatrixConfig, ValueType } from './types.js';
import { formatMatrixConfig, isMatrix, matrixInfo } from './types.js';

export interface MatrixScope {
  buffers: ReadonlyMap<string, BufferDecl>;
  shared: ReadonlyMap<string, SharedDecl>;
  requires: Set<Capability>;
  /** The configurations the kernel's multiply-adds use, each once. */
  configs: SubgroupMatrixConfig[];
  typeOf(e: Expr): ValueType;
  /** The type of a scalar or vector operand (a matrix refused). */
  plainType(e: Expr, parent: Expr): ValueType;
  expectIndex(e: Expr, parent: Expr | Stmt): void;
  fail(node: Expr | Stmt, msg: string): never;
}

type MatrixExpr = Extract<Expr, { k: 'matrixFill' | 'matrixLoad' | 'matrixMultiplyAdd' }>;
type MatrixStore = Extract<Stmt, { k: 'matrixStore' }>;
type Addressing = { space: string; offset: Expr; stride: Expr; colMajor: boolean };

export function matrixChecks(scope: MatrixScope): { infer(e: MatrixExpr): ValueType; store(s: MatrixStore): void } {
  const { buffers, shared, requires, configs, typeOf, plainType, expectIndex, fail } = scope;

  const typeInfo = (node: Expr, t: string): MatrixInfo => {
    requires.add('subgroupMatrix');
    return matrixInfo(t) ?? fail(node, `'${t}' is not a subgroup matrix type`);
  };
  const matrixOf = (e: Expr, parent: Expr | Stmt, what: string): MatrixInfo => {
    const t = typeOf(e);
    return (isMatrix(t) ? matrixInfo(t) : null) ?? fail(parent, `${what} must be a subgroup matrix, got ${t}`);
  };
  /** Checks where a matrix is loaded from or stored to; returns that array's element type. */
  const memory = (node: Expr | Stmt, m: Addressing, name: string, info: MatrixInfo, write: boolean): ValueType => {
    requires.add('subgroupMatrix');
    let elem: ValueType;
    if (m.space === 'storage') {
      const b = buffers.get(name) ?? fail(node, `unknown buffer '${name}'`);
      if (write && b.access !== 'read_write') fail(node, `matrix store to read-only buffer '${name}'`);
      elem = b.type;
    } else if (m.space === 'workgroup') {
      elem = (shared.get(name) ?? fail(node, `unknown workgroup array '${name}'`)).type;
    } else {
      return fail(node, `matrix memory space must be 'storage' or 'workgroup', got '${m.space}'`);
    }
    expectIndex(m.offset, node);
    expectIndex(m.stride, node);
    if (typeof m.colMajor !== 'boolean') fail(node, `colMajor must be true or false`);
    // WGSL leaves a stride below the row (or column) length undefined; a constant one is refused here.
    const least = m.colMajor ? info.rows : info.cols;
    if (m.stride.k === 'const' && (m.stride.value as number) < least) {
      fail(node, `stride ${String(m.stride.value)} is below the ${m.colMajor ? 'rows' : 'columns'} (${least}) of a ${m.colMajor ? 'column' : 'row'}-major matrix`);
    }
    return elem;
  };

  const infer = (e: MatrixExpr): ValueType => {
    switch (e.k) {
      case 'matrixFill': {
        const m = typeInfo(e, e.type);
        const v = plainType(e.value, e);
        if (v !== m.elem) fail(e, `fill value of ${e.type} must be ${m.elem}, got ${v}`);
        return e.type;
      }
      case 'matrixLoad': {
        const m = typeInfo(e, e.type);
        const elem = memory(e, e, e.src, m, false);
        if (elem !== m.elem) fail(e, `a ${e.type} loads from an array of ${m.elem}, not of ${elem} ('${e.src}')`);
        return e.type;
      }
      case 'matrixMultiplyAdd': {
        requires.add('subgroupMatrix');
        const a = matrixOf(e.a, e, 'the left operand');
        const b = matrixOf(e.b, e, 'the right operand');
        const c = matrixOf(e.acc, e, 'the accumulator');
        if (a.role !== 'left' || b.role !== 'right' || c.role !== 'result') {
          fail(e, `multiply-add takes left, right and result matrices, got ${a.role}, ${b.role} and ${c.role}`);
        }
        if (a.elem !== b.elem) fail(e, `left and right matrices differ in element type: ${a.elem} and ${b.elem}`);
        if (a.elem === 'f32' && c.elem !== 'f32') fail(e, `f32 matrices accumulate in f32, not ${c.elem}`);
        // left: K columns, M rows; right: N columns, K rows; result: N columns, M rows.
        if (a.cols !== b.rows || a.rows !== c.rows || b.cols !== c.cols) {
          fail(e, `shapes do not chain: left ${a.rows}x${a.cols}, right ${b.rows}x${b.cols}, result ${c.rows}x${c.cols} (rows x columns)`);
        }
        const config = { M: a.rows, N: b.cols, K: a.cols, component: a.elem, result: c.elem };
        if (!configs.some((x) => formatMatrixConfig(x) === formatMatrixConfig(config))) configs.push(config);
        return typeOf(e.acc);
      }
    }
  };

  const store = (s: MatrixStore): void => {
    const m = matrixOf(s.value, s, 'the stored value');
    const elem = memory(s, s, s.dst, m, true);
    if (elem !== m.elem) fail(s, `a matrix of ${m.elem} stores to an array of ${m.elem}, and '${s.dst}' holds ${elem}`);
  };

  return { infer, store };
}
