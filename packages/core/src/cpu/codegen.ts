// IR -> JavaScript for the CPU reference. The generated source is the IR's meaning written out:
// f32 arithmetic rounds every result with Math.fround (or not at all in f64 mode), f16 arithmetic rounds
// every result to f16 (f16r, in both modes: f16 is a storage format, and its rounding is what an f16
// kernel is checked for), i32/u32 wrap as on a GPU, reads and writes are bounds-checked and throw.
// Kernels with barriers, subgroup operations or subgroup matrices are compiled to generators that yield
// at each synchronisation point, so a scheduler can run a workgroup's invocations in lockstep (see
// backend.ts; subgroup matrices in subgroup-matrix.ts). Operators are written out from
// ir/int-semantics.ts's definitions.
import type { Expr, FloatType, Kernel, MatrixSpace, ScalarType, Stmt, ValueType } from '../ir/types.js';
import { isFloat, vectorInfo } from '../ir/types.js';
import { f16Round } from '../ir/f16.js';
import { BINARY, type Host, UNARY } from '../ir/int-semantics.js';
import type { KernelInfo } from '../ir/validate.js';

export type Precision = 'f32' | 'f64';

export interface GeneratedKernel {
  /** Plain: run(B, U, S, wx, wy, wz, nx, ny, nz) runs a whole workgroup. */
  source: string;
  /** True when each invocation is a generator that must be scheduled in lockstep. */
  lockstep: boolean;
}

const id = (prefix: string, name: string) => `${prefix}_${name}`;

export function generateJs(kernel: Kernel, info: KernelInfo, precision: Precision, subgroupSize: number): GeneratedKernel {
  const lockstep = info.usesBarrier || info.usesSubgroups || info.usesMatrices;
  const [WX, WY] = kernel.workgroupSize;
  const round = (s: string, t: FloatType) => (t === 'f16' ? `f16r(${s})` : precision === 'f32' ? `Math.fround(${s})` : `(${s})`);
  let site = 0;
  const typeOf = (e: Expr): ValueType => info.types.get(e)!;

  const js: Host<string> = {
    lit: String,
    op: (op, a, b) => `(${a} ${op} ${b})`,
    neg: (a) => `(-${a})`,
    not: (a) => `(!${a})`,
    call: (fn, ...args) => `${fn}(${args.join(', ')})`,
    round,
  };

  const cast = (from: ScalarType, to: ScalarType, a: string): string => {
    if (from === to) return a;
    if (to === 'bool') return `(${a} !== 0)`;
    if (from === 'bool') return `(${a} ? 1 : 0)`;
    if (isFloat(to)) return round(a, to);
    const fromFloat = from === 'f16' ? 'h2' : from === 'f32' ? 'f2' : null;
    if (to === 'i32') return fromFloat ? `${fromFloat}i(${a})` : `(${a} | 0)`;
    return fromFloat ? `${fromFloat}u(${a})` : `(${a} >>> 0)`;
  };

  const constant = (e: Extract<Expr, { k: 'const' }>): string => {
    if (e.type === 'bool') return String(e.value);
    const v = e.value as number;
    const n = e.type === 'f16' ? f16Round(v) : e.type === 'f32' ? (precision === 'f32' ? Math.fround(v) : v) : e.type === 'i32' ? v | 0 : v >>> 0;
    return `(${n})`;
  };

  const builtin = (e: Extract<Expr, { k: 'builtin' }>): string => {
    const ax = ['x', 'y', 'z'][e.axis]!;
    switch (e.name) {
      case 'globalId': return `(w${ax} * W${ax.toUpperCase()} + l${ax})`;
      case 'localId': return `l${ax}`;
      case 'workgroupId': return `w${ax}`;
      case 'numWorkgroups': return `n${ax}`;
      case 'localIndex': return 'li';
      case 'subgroupInvocationId': return `(li % ${subgroupSize})`;
      case 'subgroupSize': return `${subgroupSize}`;
    }
  };

  // Applies a scalar operator to each lane of a vector (or directly to scalars).
  const lanewise = (t: ValueType, parts: string[], f: (elem: ScalarType, xs: string[]) => string): string => {
    const { elem, lanes } = vectorInfo(t);
    if (lanes === 1) return f(elem, parts);
    const lanesCode = Array.from({ length: lanes }, (_, i) => f(elem, parts.map((_p, j) => `_v${j}[${i}]`)));
    return `((${parts.map((_p, j) => `_v${j}`).join(', ')}) => [${lanesCode.join(', ')}])(${parts.join(', ')})`;
  };

  const load = (arrayVar: string, t: ValueType, index: string, label: string): string => {
    const { elem, lanes } = vectorInfo(t);
    const read = lanes === 1 ? `rd(${arrayVar}, ${index}, ${JSON.stringify(label)})` : `rdv(${arrayVar}, ${index}, ${lanes}, ${JSON.stringify(label)})`;
    return elem === 'u32' ? lanewise(t, [read], (_e, [x]) => `(${x} >>> 0)`) : read;
  };

  const ex = (e: Expr): string => {
    switch (e.k) {
      case 'const': return constant(e);
      case 'ref': return id('v', e.name);
      case 'uniform': return id('u', e.name);
      case 'builtin': return builtin(e);
      case 'load': return load(id('b', e.buf), typeOf(e), ex(e.index), e.buf);
      case 'loadShared': return load(id('s', e.arr), typeOf(e), ex(e.index), e.arr);
      case 'binary': return lanewise(typeOf(e.a), [ex(e.a), ex(e.b)], (t, [a, b]) => BINARY[e.op](js, t, a!, b!));
      case 'unary': return lanewise(typeOf(e.a), [ex(e.a)], (t, [a]) => UNARY[e.op](js, t, a!));
      case 'select': return `(${ex(e.cond)} ? ${ex(e.a)} : ${ex(e.b)})`;
      case 'cast': return cast(typeOf(e.a) as ScalarType, e.to, ex(e.a));
      case 'vec': return `[${e.parts.map(ex).join(', ')}]`;
      case 'component': return `(${ex(e.a)})[${e.index}]`;
      case 'subgroup': {
        const elem = vectorInfo(typeOf(e)).elem;
        return `(yield [${site++}, ${JSON.stringify(e.op)}, ${ex(e.a)}, ${e.lane ? ex(e.lane) : -1}, ${JSON.stringify(elem)}])`;
      }
      case 'matrixFill': return matrixOp(`op: 'fill', type: ${JSON.stringify(e.type)}, value: ${ex(e.value)}`);
      case 'matrixLoad':
        return matrixOp(`op: 'load', type: ${JSON.stringify(e.type)}, ${memory(e.space, e.src, e.offset, e.stride, e.colMajor)}`);
      case 'matrixMultiplyAdd': return matrixOp(`op: 'multiplyAdd', a: ${ex(e.a)}, b: ${ex(e.b)}, acc: ${ex(e.acc)}`);
    }
  };
  // Subgroup-matrix operations are collective: each yields its request, resolved once per subgroup.
  const matrixOp = (fields: string) => `(yield [${site++}, 'matrix', { ${fields} }])`;
  const memory = (space: MatrixSpace, name: string, offset: Expr, stride: Expr, colMajor: boolean) =>
    `data: ${id(space === 'storage' ? 'b' : 's', name)}, label: ${JSON.stringify(name)}, offset: ${ex(offset)}, stride: ${ex(stride)}, colMajor: ${colMajor}`;

  const store = (arrayVar: string, t: ValueType, index: string, value: string, label: string): string => {
    const lanes = vectorInfo(t).lanes;
    return lanes === 1
      ? `wr(${arrayVar}, ${index}, ${value}, ${JSON.stringify(label)});`
      : `wrv(${arrayVar}, ${index}, ${lanes}, ${value}, ${JSON.stringify(label)});`;
  };

  const st = (s: Stmt, ind: string): string => {
    switch (s.k) {
      case 'let': return `${ind}const ${id('v', s.name)} = ${ex(s.value)};`;
      case 'var': return `${ind}let ${id('v', s.name)} = ${ex(s.init)};`;
      case 'assign': return `${ind}${id('v', s.name)} = ${ex(s.value)};`;
      case 'store': return ind + store(id('b', s.buf), kernel.buffers.find((b) => b.name === s.buf)!.type, ex(s.index), ex(s.value), s.buf);
      case 'storeShared': return ind + store(id('s', s.arr), kernel.shared.find((a) => a.name === s.arr)!.type, ex(s.index), ex(s.value), s.arr);
      case 'if': {
        const els = s.else.length ? ` else {\n${block(s.else, ind + '  ')}\n${ind}}` : '';
        return `${ind}if (${ex(s.cond)}) {\n${block(s.then, ind + '  ')}\n${ind}}${els}`;
      }
      case 'for': {
        const v = id('v', s.name);
        return `${ind}for (let ${v} = ${ex(s.from)}; ${v} < ${ex(s.to)}; ${v} += ${s.step}) {\n${block(s.body, ind + '  ')}\n${ind}}`;
      }
      case 'barrier': return `${ind}yield 0;`;
      case 'matrixStore': return `${ind}${matrixOp(`op: 'store', value: ${ex(s.value)}, ${memory(s.space, s.dst, s.offset, s.stride, s.colMajor)}`)};`;
      case 'return': return lockstep ? `${ind}return;` : `${ind}break inv;`;
    }
  };
  const block = (stmts: Stmt[], ind: string) => stmts.map((s) => st(s, ind)).join('\n');

  const prologue = [
    ...kernel.buffers.map((b) => `const ${id('b', b.name)} = B[${JSON.stringify(b.name)}];`),
    ...kernel.uniforms.map((u) => `const ${id('u', u.name)} = U[${JSON.stringify(u.name)}];`),
    ...kernel.shared.map((a) => `const ${id('s', a.name)} = S[${JSON.stringify(a.name)}];`),
    `const WX = ${WX}, WY = ${WY}, WZ = ${kernel.workgroupSize[2]};`,
  ].join('\n');
  const body = block(kernel.body, '      ');
  const source = lockstep
    ? `${prologue}\nreturn function* (wx, wy, wz, nx, ny, nz, lx, ly, lz) {\n  const li = lx + ly * WX + lz * WX * WY;\n${body}\n};`
    : `${prologue}\nfor (let lz = 0; lz < WZ; lz++) for (let ly = 0; ly < WY; ly++) for (let lx = 0; lx < WX; lx++) {\n  const li = lx + ly * WX + lz * WX * WY;\n  inv: {\n${body}\n  }\n}`;
  return { source, lockstep };
}
