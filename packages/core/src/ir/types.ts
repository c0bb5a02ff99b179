// The kernel IR: a typed tree that every backend lowers (WGSL, gpu.js, the CPU interpreter).
// Nodes are plain JSON-able objects so that a kernel's structure can be hashed and snapshotted.

export type ScalarType = 'f32' | 'i32' | 'u32' | 'bool';
export type NumericScalar = 'f32' | 'i32' | 'u32';
export type VectorType = `vec${2 | 4}<${NumericScalar}>`;
export type ValueType = ScalarType | VectorType;

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
  | { k: 'subgroup'; op: SubgroupOp; a: Expr; lane?: Expr };

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
  | { k: 'return' };

export type Access = 'read' | 'read_write';

export interface BufferDecl {
  name: string;
  /** Element type as the kernel sees it; an f32 tensor may be bound as vec4<f32> (length / 4 elements). */
  type: Exclude<ValueType, 'bool'>;
  access: Access;
}

export interface UniformDecl {
  name: string;
  type: NumericScalar;
}

export interface SharedDecl {
  name: string;
  type: Exclude<ValueType, 'bool'>;
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

export type Capability = 'workgroupMemory' | 'subgroups';

export function vectorInfo(t: ValueType): { elem: ScalarType; lanes: number } {
  const m = /^vec(\d)<(\w+)>$/.exec(t);
  return m ? { elem: m[2] as ScalarType, lanes: Number(m[1]) } : { elem: t as ScalarType, lanes: 1 };
}

export function isVector(t: ValueType): t is VectorType {
  return t.startsWith('vec');
}
