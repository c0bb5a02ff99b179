// The kernel IR: a typed tree that every backend lowers (WGSL, gpu.js, the CPU interpreter).
// Nodes are plain JSON-able objects so that a kernel's structure can be hashed and snapshotted.

export type ScalarType = 'f32' | 'f16' | 'i32' | 'u32' | 'bool';
/** Uniform types: a uniform is one 4-byte field (f16 uniforms would change the struct's layout). */
export type NumericScalar = 'f32' | 'i32' | 'u32';
/** Element types of buffers and workgroup arrays; f16 needs the 'f16' capability. */
export type ElementScalar = NumericScalar | 'f16';
export type FloatType = 'f32' | 'f16';
export type VectorType = `vec${2 | 4}<${ElementScalar}>`;
/**
 * A subgroup matrix, spelled as WGSL spells it: `subgroup_matrix_<role><T, columns, rows>`. A left
 * matrix is M x K (K columns, M rows), a right one K x N, a result M x N. Its elements are spread over
 * the subgroup's invocations in a layout the IR leaves opaque: no invocation reads one element.
 */
export type MatrixRole = 'left' | 'right' | 'result';
export type MatrixType = `subgroup_matrix_${MatrixRole}<${FloatType}, ${number}, ${number}>`;
export type ValueType = ScalarType | VectorType | MatrixType;
/** What buffers and workgroup arrays hold. */
export type DataType = Exclude<ScalarType | VectorType, 'bool'>;
/** Where a subgroup matrix is loaded from or stored to: a storage buffer or a workgroup array. */
export type MatrixSpace = 'storage' | 'workgroup';

/** Builtins are exposed as i32 (WGSL's u32 ids are cast), so index arithmetic stays in one type. */
export type BuiltinName =
  | 'globalId'
  | 'localId'
  | 'workgroupId'
  | 'numWorkgroups'
  | 'localIndex'
  | 'subgroupInvocationId'
  | 'subgroupSize';

export type BinaryOp =
  | '+' | '-' | '*' | '/' | '%'
  | '<' | '<=' | '>' | '>=' | '==' | '!='
  | '&&' | '||'
  | '&' | '|' | '^' | '<<' | '>>'
  | 'min' | 'max' | 'pow';

export type UnaryOp =
  | 'neg' | 'not'
  | 'exp' | 'log' | 'sqrt' | 'rsqrt' | 'tanh' | 'abs' | 'floor' | 'ceil' | 'sin' | 'cos'
  /** f32 -> bool: NaN, or neither NaN nor an infinity; bit tests on GPUs, where `x != x` may be compiled away. */
  | 'isNan' | 'isFinite';

/** Subgroup operations; they need the 'subgroups' capability. */
export type SubgroupOp = 'add' | 'max' | 'min' | 'broadcast' | 'shuffle';

export type Expr =
  | { k: 'const'; type: ScalarType; value: number | boolean }
  | { k: 'ref'; name: string }
  | { k: 'uniform'; name: string }
  | { k: 'builtin'; name: BuiltinName; axis: 0 | 1 | 2 }
  | { k: 'load'; buf: string; index: Expr }
  | { k: 'loadShared'; arr: string; index: Expr }
  | { k: 'binary'; op: BinaryOp; a: Expr; b: Expr }
  | { k: 'unary'; op: UnaryOp; a: Expr }
  | { k: 'select'; cond: Expr; a: Expr; b: Expr } // cond ? a : b
  | { k: 'cast'; to: ScalarType; a: Expr }
  | { k: 'vec'; type: VectorType; parts: Expr[] }
  | { k: 'component'; a: Expr; index: number }
  | { k: 'subgroup'; op: SubgroupOp; a: Expr; lane?: Expr }
  /** A subgroup matrix of `type` with every element `value` (a scalar of its element type). */
  | { k: 'matrixFill'; type: MatrixType; value: Expr }
  /**
   * A subgroup matrix read from `src` (a buffer, or a workgroup array when space is 'workgroup'):
   * element (r, c) at offset + r * stride + c (row-major) or offset + c * stride + r (column-major).
   */
  | { k: 'matrixLoad'; type: MatrixType; space: MatrixSpace; src: string; offset: Expr; stride: Expr; colMajor: boolean }
  /** left (M x K) x right (K x N) + acc (M x N), in acc's type; needs a configuration the backend offers. */
  | { k: 'matrixMultiplyAdd'; a: Expr; b: Expr; acc: Expr };

export type Stmt =
  | { k: 'let'; name: string; value: Expr }
  | { k: 'var'; name: string; type: ValueType; init: Expr }
  | { k: 'assign'; name: string; value: Expr }
  | { k: 'store'; buf: string; index: Expr; value: Expr }
  | { k: 'storeShared'; arr: string; index: Expr; value: Expr }
  | { k: 'if'; cond: Expr; then: Stmt[]; else: Stmt[] }
  /** for (var name: i32 = from; name < to; name += step), step a positive constant. */
  | { k: 'for'; name: string; from: Expr; to: Expr; step: number; body: Stmt[] }
  | { k: 'barrier' }
  /** Writes a subgroup matrix, laid out as matrixLoad reads one. */
  | { k: 'matrixStore'; space: MatrixSpace; dst: string; offset: Expr; stride: Expr; colMajor: boolean; value: Expr }
  | { k: 'return' };

export type Access = 'read' | 'read_write';

export interface BufferDecl {
  name: string;
  /** Element type as the kernel sees it; an f32 tensor may be bound as vec4<f32> (length / 4 elements). */
  type: DataType;
  access: Access;
}

export interface UniformDecl {
  name: string;
  type: NumericScalar;
}

export interface SharedDecl {
  name: string;
  type: DataType;
  length: number;
}

/**
 * A map kernel writes exactly one element of `output` per invocation, at its linear id, and only when
 * that id is below the uniform `count`. Its body is `let <index> = linearId; if (<index> < count) { ...;
 * output[<index>] = value }`. gpu.js can run only these.
 */
export interface MapInfo {
  output: string;
  count: string;
  index: string;
}

export interface Kernel {
  name: string;
  workgroupSize: [number, number, number];
  buffers: BufferDecl[];
  uniforms: UniformDecl[];
  shared: SharedDecl[];
  body: Stmt[];
  map?: MapInfo;
}

/**
 * Features a kernel may need: workgroup memory and barriers, subgroup operations, f16 values (WebGPU's
 * shader-f16), subgroup matrices (WebGPU's experimental chromium-experimental-subgroup-matrix).
 */
export type Capability = 'workgroupMemory' | 'subgroups' | 'f16' | 'subgroupMatrix';

/** One shape and type of subgroup-matrix product a device runs: M x K times K x N, component -> result. */
export interface SubgroupMatrixConfig {
  M: number;
  N: number;
  K: number;
  component: FloatType;
  result: FloatType;
}

export const formatMatrixConfig = (c: SubgroupMatrixConfig): string => `${c.M}x${c.N}x${c.K} ${c.component}->${c.result}`;

export function vectorInfo(t: ValueType): { elem: ScalarType; lanes: number } {
  const m = /^vec(\d)<(\w+)>$/.exec(t);
  return m ? { elem: m[2] as ScalarType, lanes: Number(m[1]) } : { elem: t as ScalarType, lanes: 1 };
}

export function isVector(t: ValueType): t is VectorType {
  return t.startsWith('vec');
}

export function isFloat(t: ScalarType): t is FloatType {
  return t === 'f32' || t === 'f16';
}

export function isMatrix(t: ValueType): t is MatrixType {
  return t.startsWith('subgroup_matrix_');
}

export interface MatrixInfo {
  role: MatrixRole;
  elem: FloatType;
  cols: number;
  rows: number;
}

/** The parts of a subgroup-matrix type, or null when `t` is not a well-formed one. */
export function matrixInfo(t: string): MatrixInfo | null {
  const m = /^subgroup_matrix_(left|right|result)<(f32|f16), (\d+), (\d+)>$/.exec(t);
  if (!m) return null;
  const cols = Number(m[3]);
  const rows = Number(m[4]);
  if (cols < 1 || rows < 1) return null;
  return { role: m[1] as MatrixRole, elem: m[2] as FloatType, cols, rows };
}

export const matrixType = (role: MatrixRole, elem: FloatType, cols: number, rows: number): MatrixType =>
  `subgroup_matrix_${role}<${elem}, ${cols}, ${rows}>`;
