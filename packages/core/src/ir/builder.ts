// A TypeScript builder for the kernel IR, so that kernels read like code:
//
//   const k = defineKernel('scale', { workgroupSize: 64 }, (b) => {
//     const x = b.input('x', 'f32'), out = b.output('out', 'f32');
//     const n = b.uniform('n', 'i32'), s = b.uniform('s', 'f32');
//     const i = b.let('i', b.linearId());
//     b.if(i.lt(n), () => out.store(i, x.at(i).mul(s)));
//   });
import type {
  BinaryOp, BufferDecl, BuiltinName, Expr, Kernel, MatrixType, NumericScalar, ScalarType, SharedDecl, Stmt,
  SubgroupOp, UnaryOp, UniformDecl, ValueType, VectorType,
} from './types.js';
import { vectorInfo } from './types.js';

export type Operand = Ex | number | boolean;

/** An expression handle: the IR node plus its type, with operator methods. */
export class Ex {
  constructor(readonly node: Expr, readonly type: ValueType) {}

  private lift(v: Operand): Ex {
    if (v instanceof Ex) return v;
    const elem = vectorInfo(this.type).elem;
    if (typeof v === 'boolean') return lit(v, 'bool');
    if (elem !== this.type) throw new Error(`cannot combine ${this.type} with the plain number ${v}`);
    return lit(v, elem);
  }
  private bin(op: BinaryOp, v: Operand, type?: ValueType): Ex {
    const o = this.lift(v);
    return new Ex({ k: 'binary', op, a: this.node, b: o.node }, type ?? this.type);
  }
  private un(op: UnaryOp): Ex {
    return new Ex({ k: 'unary', op, a: this.node }, this.type);
  }
  add(v: Operand) { return this.bin('+', v); }
  sub(v: Operand) { return this.bin('-', v); }
  mul(v: Operand) { return this.bin('*', v); }
  div(v: Operand) { return this.bin('/', v); }
  mod(v: Operand) { return this.bin('%', v); }
  min(v: Operand) { return this.bin('min', v); }
  max(v: Operand) { return this.bin('max', v); }
  pow(v: Operand) { return this.bin('pow', v); }
  lt(v: Operand) { return this.bin('<', v, 'bool'); }
  le(v: Operand) { return this.bin('<=', v, 'bool'); }
  gt(v: Operand) { return this.bin('>', v, 'bool'); }
  ge(v: Operand) { return this.bin('>=', v, 'bool'); }
  eq(v: Operand) { return this.bin('==', v, 'bool'); }
  ne(v: Operand) { return this.bin('!=', v, 'bool'); }
  and(v: Operand) { return this.bin('&&', v, 'bool'); }
  or(v: Operand) { return this.bin('||', v, 'bool'); }
  bitAnd(v: Operand) { return this.bin('&', v); }
  bitOr(v: Operand) { return this.bin('|', v); }
  bitXor(v: Operand) { return this.bin('^', v); }
  shl(v: Operand) { return this.bin('<<', v); }
  shr(v: Operand) { return this.bin('>>', v); }
  neg() { return this.un('neg'); }
  not() { return this.un('not'); }
  exp() { return this.un('exp'); }
  log() { return this.un('log'); }
  sqrt() { return this.un('sqrt'); }
  rsqrt() { return this.un('rsqrt'); }
  tanh() { return this.un('tanh'); }
  abs() { return this.un('abs'); }
  floor() { return this.un('floor'); }
  ceil() { return this.un('ceil'); }
  sin() { return this.un('sin'); }
  cos() { return this.un('cos'); }
  /** True for NaN (bool): the only reliable NaN test, since GPU compilers may fold `x != x` to false. */
  isNan() { return new Ex({ k: 'unary', op: 'isNan', a: this.node }, 'bool'); }
  /** Neither NaN nor an infinity (bool), by the same reliable test. */
  isFinite() { return new Ex({ k: 'unary', op: 'isFinite', a: this.node }, 'bool'); }
  cast(to: ScalarType) { return new Ex({ k: 'cast', to, a: this.node }, to); }
  toF32() { return this.cast('f32'); }
  toF16() { return this.cast('f16'); }
  toI32() { return this.cast('i32'); }
  toU32() { return this.cast('u32'); }
  component(i: number) { return new Ex({ k: 'component', a: this.node, index: i }, vectorInfo(this.type).elem); }
  get x() { return this.component(0); }
  get y() { return this.component(1); }
  get z() { return this.component(2); }
  get w() { return this.component(3); }
  /** this ? a : b */
  select(a: Operand, b: Operand): Ex {
    const ea = a instanceof Ex ? a : b instanceof Ex ? b.lift(a) : lit(a as number, typeof a === 'boolean' ? 'bool' : 'f32');
    const eb = ea.lift(b);
    return new Ex({ k: 'select', cond: this.node, a: ea.node, b: eb.node }, ea.type);
  }
}

export function lit(value: number | boolean, type: ScalarType): Ex {
  return new Ex({ k: 'const', type, value }, type);
}
export const f32 = (v: number) => lit(v, 'f32');
export const f16 = (v: number) => lit(v, 'f16');
export const i32 = (v: number) => lit(v, 'i32');
export const u32 = (v: number) => lit(v, 'u32');

export function vec(type: VectorType, ...parts: Operand[]): Ex {
  const elem = vectorInfo(type).elem;
  return new Ex({ k: 'vec', type, parts: parts.map((p) => (p instanceof Ex ? p : lit(p, elem)).node) }, type);
}

export class BufferRef {
  constructor(private readonly b: KernelBuilder, readonly decl: BufferDecl) {}
  at(index: Operand): Ex {
    return new Ex({ k: 'load', buf: this.decl.name, index: toIndex(index) }, this.decl.type);
  }
  store(index: Operand, value: Ex): void {
    this.b.emit({ k: 'store', buf: this.decl.name, index: toIndex(index), value: value.node });
  }
}

export class SharedRef {
  constructor(private readonly b: KernelBuilder, readonly decl: SharedDecl) {}
  at(index: Operand): Ex {
    return new Ex({ k: 'loadShared', arr: this.decl.name, index: toIndex(index) }, this.decl.type);
  }
  store(index: Operand, value: Ex): void {
    this.b.emit({ k: 'storeShared', arr: this.decl.name, index: toIndex(index), value: value.node });
  }
}

export class VarRef extends Ex {
  constructor(private readonly b: KernelBuilder, readonly name: string, type: ValueType) {
    super({ k: 'ref', name }, type);
  }
  set(value: Operand): void {
    const v = value instanceof Ex ? value : lit(value, vectorInfo(this.type).elem);
    this.b.emit({ k: 'assign', name: this.name, value: v.node });
  }
}

const toIndex = (v: Operand): Expr => (v instanceof Ex ? v.node : lit(v as number, 'i32').node);

/** How a subgroup matrix sits in memory: row-major unless colMajor (then stride separates columns). */
export interface MatrixLayout {
  colMajor?: boolean;
}

const matrixPlace = (ref: BufferRef | SharedRef) =>
  ref instanceof BufferRef ? { space: 'storage' as const, name: ref.decl.name } : { space: 'workgroup' as const, name: ref.decl.name };

export interface KernelOptions {
  workgroupSize: number | [number, number?, number?];
}

export class KernelBuilder {
  private readonly buffers: BufferDecl[] = [];
  private readonly uniforms: UniformDecl[] = [];
  private readonly shared: SharedDecl[] = [];
  private readonly blocks: Stmt[][] = [[]];
  private readonly used = new Set<string>();
  readonly workgroupSize: [number, number, number];

  constructor(opts: KernelOptions) {
    const w = opts.workgroupSize;
    this.workgroupSize = typeof w === 'number' ? [w, 1, 1] : [w[0], w[1] ?? 1, w[2] ?? 1];
  }

  emit(s: Stmt): void {
    this.blocks[this.blocks.length - 1]!.push(s);
  }
  /** A fresh identifier: `base` itself, or `base_2`, `base_3`... so nested blocks never shadow. */
  fresh(base: string): string {
    let name = base;
    for (let i = 2; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }
  private block(fn: () => void): Stmt[] {
    this.blocks.push([]);
    fn();
    return this.blocks.pop()!;
  }

  input(name: string, type: BufferDecl['type']): BufferRef {
    return this.buffer(name, type, 'read');
  }
  output(name: string, type: BufferDecl['type']): BufferRef {
    return this.buffer(name, type, 'read_write');
  }
  buffer(name: string, type: BufferDecl['type'], access: BufferDecl['access']): BufferRef {
    const decl = { name: this.fresh(name), type, access };
    this.buffers.push(decl);
    return new BufferRef(this, decl);
  }
  uniform(name: string, type: NumericScalar): Ex {
    const decl = { name: this.fresh(name), type };
    this.uniforms.push(decl);
    return new Ex({ k: 'uniform', name: decl.name }, type);
  }
  workgroupArray(name: string, type: SharedDecl['type'], length: number): SharedRef {
    const decl = { name: this.fresh(name), type, length };
    this.shared.push(decl);
    return new SharedRef(this, decl);
  }

  builtin(name: BuiltinName, axis: 0 | 1 | 2 = 0): Ex {
    return new Ex({ k: 'builtin', name, axis }, 'i32');
  }
  globalId(axis: 0 | 1 | 2 = 0) { return this.builtin('globalId', axis); }
  localId(axis: 0 | 1 | 2 = 0) { return this.builtin('localId', axis); }
  workgroupId(axis: 0 | 1 | 2 = 0) { return this.builtin('workgroupId', axis); }
  numWorkgroups(axis: 0 | 1 | 2 = 0) { return this.builtin('numWorkgroups', axis); }
  localIndex() { return this.builtin('localIndex'); }
  subgroupInvocationId() { return this.builtin('subgroupInvocationId'); }
  subgroupSize() { return this.builtin('subgroupSize'); }
  /** The invocation's index in a 1-D problem laid over a 2-D grid (grids are at most 65535 per axis). */
  linearId(): Ex {
    const rowWidth = this.numWorkgroups(0).mul(this.workgroupSize[0]);
    return this.globalId(0).add(this.globalId(1).mul(rowWidth));
  }

  /** let idx = linearId; if (idx < count) body(idx): one invocation per element of a flat problem. */
  indexBelow(count: Ex, body: (idx: Ex) => void): void {
    const idx = this.let('idx', this.linearId());
    this.if(idx.lt(count), () => body(idx));
  }

  let(name: string, value: Ex): Ex {
    const n = this.fresh(name);
    this.emit({ k: 'let', name: n, value: value.node });
    return new Ex({ k: 'ref', name: n }, value.type);
  }
  var(name: string, init: Ex): VarRef {
    const n = this.fresh(name);
    this.emit({ k: 'var', name: n, type: init.type, init: init.node });
    return new VarRef(this, n, init.type);
  }
  if(cond: Ex, then: () => void, otherwise?: () => void): void {
    const t = this.block(then);
    const e = otherwise ? this.block(otherwise) : [];
    this.emit({ k: 'if', cond: cond.node, then: t, else: e });
  }
  /** for (i = from; i < to; i += step) */
  for(name: string, from: Operand, to: Operand, body: (i: Ex) => void, step = 1): void {
    const n = this.fresh(name);
    const i = new Ex({ k: 'ref', name: n }, 'i32');
    const stmts = this.block(() => body(i));
    this.emit({ k: 'for', name: n, from: toIndex(from), to: toIndex(to), step, body: stmts });
  }
  barrier(): void {
    this.emit({ k: 'barrier' });
  }
  return(): void {
    this.emit({ k: 'return' });
  }

  subgroup(op: SubgroupOp, value: Ex, lane?: Operand): Ex {
    return new Ex({ k: 'subgroup', op, a: value.node, ...(lane === undefined ? {} : { lane: toIndex(lane) }) }, value.type);
  }
  subgroupAdd(v: Ex) { return this.subgroup('add', v); }
  subgroupMax(v: Ex) { return this.subgroup('max', v); }
  subgroupMin(v: Ex) { return this.subgroup('min', v); }
  subgroupBroadcast(v: Ex, lane: number) { return this.subgroup('broadcast', v, lane); }
  subgroupShuffle(v: Ex, lane: Operand) { return this.subgroup('shuffle', v, lane); }

  /** A subgroup matrix with every element `value` (collective over the subgroup, like every matrix op). */
  matrixFill(type: MatrixType, value: Ex): Ex {
    return new Ex({ k: 'matrixFill', type, value: value.node }, type);
  }
  /** A subgroup matrix read from a buffer or workgroup array at `offset`, rows (or columns) `stride` apart. */
  matrixLoad(type: MatrixType, from: BufferRef | SharedRef, offset: Operand, stride: Operand, layout: MatrixLayout = {}): Ex {
    const { space, name } = matrixPlace(from);
    return new Ex({ k: 'matrixLoad', type, space, src: name, offset: toIndex(offset), stride: toIndex(stride), colMajor: layout.colMajor ?? false }, type);
  }
  /** a x b + acc (left x right + result), in acc's type. */
  matrixMultiplyAdd(a: Ex, b: Ex, acc: Ex): Ex {
    return new Ex({ k: 'matrixMultiplyAdd', a: a.node, b: b.node, acc: acc.node }, acc.type);
  }
  matrixStore(to: BufferRef | SharedRef, offset: Operand, value: Ex, stride: Operand, layout: MatrixLayout = {}): void {
    const { space, name } = matrixPlace(to);
    this.emit({ k: 'matrixStore', space, dst: name, offset: toIndex(offset), stride: toIndex(stride), colMajor: layout.colMajor ?? false, value: value.node });
  }

  build(name: string): Kernel {
    if (this.blocks.length !== 1) throw new Error(`kernel '${name}': unbalanced blocks`);
    return {
      name,
      workgroupSize: this.workgroupSize,
      buffers: this.buffers,
      uniforms: this.uniforms,
      shared: this.shared,
      body: this.blocks[0]!,
    };
  }
}

export function defineKernel(name: string, opts: KernelOptions, body: (b: KernelBuilder) => void): Kernel {
  const b = new KernelBuilder(opts);
  body(b);
  return b.build(name);
}

export interface MapKernelContext {
  b: KernelBuilder;
  /** The output element this invocation computes. */
  index: Ex;
  /** The output, which the invocation may read at `index` (its own element) before it is written. */
  out: BufferRef;
}

/**
 * A map kernel: one invocation per output element, `count` elements (a uniform named 'count').
 * `body` may emit lets and loops and returns the value to store. Declare inputs and uniforms in
 * `setup`, which runs before the index is computed.
 */
export function defineMapKernel<T>(
  name: string,
  opts: { workgroupSize?: number; outputType: BufferDecl['type'] },
  setup: (b: KernelBuilder) => T,
  body: (ctx: MapKernelContext, decls: T) => Ex,
): Kernel {
  const b = new KernelBuilder({ workgroupSize: opts.workgroupSize ?? 64 });
  const decls = setup(b);
  const out = b.output('out', opts.outputType);
  const count = b.uniform('count', 'i32');
  b.indexBelow(count, (index) => out.store(index, body({ b, index, out }, decls)));
  const k = b.build(name);
  const idxName = (k.body[0] as { name: string }).name;
  return { ...k, map: { output: out.decl.name, count: (count.node as { name: string }).name, index: idxName } };
}
