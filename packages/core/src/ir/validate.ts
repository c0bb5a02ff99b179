// Type inference and validation of kernels. Every backend calls `validateKernel` before lowering; the
// returned type map is what code generators use to pick per-type operators.
import {
  type BinaryOp, type Capability, type Expr, type Kernel, type Stmt, type SubgroupMatrixConfig, type UnaryOp,
  type ValueType, isFloat, isMatrix, isVector, matrixInfo, vectorInfo,
} from './types.js';
import { f16Round } from './f16.js';
import { matrixChecks } from './validate-matrix.js';

export class KernelValidationError extends Error {
  constructor(kernel: string, where: string, message: string) {
    super(`kernel '${kernel}': ${message} (at ${where})`);
    this.name = 'KernelValidationError';
  }
}

export interface KernelInfo {
  types: Map<Expr, ValueType>;
  varTypes: Map<string, ValueType>;
  requires: Set<Capability>;
  usesBarrier: boolean;
  usesSubgroups: boolean;
  /** Subgroup-matrix operations are collective over a subgroup, like subgroup operations. */
  usesMatrices: boolean;
  /** The subgroup-matrix products the kernel computes (each must be a configuration the backend offers). */
  matrixConfigs: SubgroupMatrixConfig[];
}

const describe = (e: Expr | Stmt): string => {
  const s = JSON.stringify(e);
  return s.length > 120 ? s.slice(0, 117) + '...' : s;
};

const BINARY_KIND: Record<BinaryOp, 'arith' | 'compare' | 'logic' | 'bits'> = {
  '+': 'arith', '-': 'arith', '*': 'arith', '/': 'arith', '%': 'arith', min: 'arith', max: 'arith', pow: 'arith',
  '<': 'compare', '<=': 'compare', '>': 'compare', '>=': 'compare', '==': 'compare', '!=': 'compare',
  '&&': 'logic', '||': 'logic',
  '&': 'bits', '|': 'bits', '^': 'bits', '<<': 'bits', '>>': 'bits',
};
/** The operand each unary operator takes: a float (or its vectors), a scalar float, bool, or a float or i32. */
const UNARY_OPERAND: Record<UnaryOp, 'float' | 'scalarFloat' | 'bool' | 'signed'> = {
  exp: 'float', log: 'float', sqrt: 'float', rsqrt: 'float', tanh: 'float', floor: 'float', ceil: 'float', sin: 'float', cos: 'float',
  isNan: 'scalarFloat', isFinite: 'scalarFloat',
  not: 'bool',
  neg: 'signed', abs: 'signed',
};

const infoCache = new WeakMap<Kernel, KernelInfo>();

/** Validates a kernel and returns the type of every expression; throws naming the offending node. */
export function validateKernel(kernel: Kernel): KernelInfo {
  const cached = infoCache.get(kernel);
  if (cached) return cached;
  const fail = (node: Expr | Stmt, msg: string): never => {
    throw new KernelValidationError(kernel.name, describe(node), msg);
  };
  const types = new Map<Expr, ValueType>();
  const varTypes = new Map<string, ValueType>();
  const mutable = new Set<string>();
  const requires = new Set<Capability>();
  let usesBarrier = false;
  let usesSubgroups = false;
  const matrixConfigs: SubgroupMatrixConfig[] = [];

  const names = new Set<string>();
  const declare = (node: Expr | Stmt, name: string) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) fail(node, `invalid identifier '${name}'`);
    if (names.has(name)) fail(node, `name '${name}' declared twice`);
    names.add(name);
  };
  const wg = kernel.workgroupSize;
  if (wg.length !== 3 || wg.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new KernelValidationError(kernel.name, 'workgroupSize', `workgroup size must be 3 positive integers, got ${JSON.stringify(wg)}`);
  }
  const buffers = new Map(kernel.buffers.map((b) => [b.name, b]));
  const uniforms = new Map(kernel.uniforms.map((u) => [u.name, u]));
  const shared = new Map(kernel.shared.map((s) => [s.name, s]));
  for (const d of [...kernel.buffers, ...kernel.uniforms, ...kernel.shared]) {
    declare({ k: 'ref', name: d.name }, d.name);
  }
  for (const s of kernel.shared) {
    if (!Number.isInteger(s.length) || s.length < 1) fail({ k: 'ref', name: s.name }, `workgroup array length must be a positive integer`);
  }
  if (kernel.shared.length) requires.add('workgroupMemory');
  const noteF16 = (t: ValueType) => {
    if ((isMatrix(t) ? matrixInfo(t)?.elem : vectorInfo(t).elem) === 'f16') requires.add('f16');
  };
  for (const d of [...kernel.buffers, ...kernel.shared]) {
    const { elem, lanes } = vectorInfo(d.type);
    if (!['f32', 'f16', 'i32', 'u32'].includes(elem) || (isVector(d.type) && lanes !== 2 && lanes !== 4)) {
      fail({ k: 'ref', name: d.name }, `'${d.name}' has type ${d.type}; buffers and workgroup arrays hold f32, f16, i32 or u32 scalars or their vec2 / vec4`);
    }
    noteF16(d.type);
  }
  for (const u of kernel.uniforms) {
    if (u.type !== 'f32' && u.type !== 'i32' && u.type !== 'u32') fail({ k: 'uniform', name: u.name }, `uniform '${u.name}' has type ${u.type}; uniforms are f32, i32 or u32`);
  }

  const typeOf = (e: Expr): ValueType => {
    const t = infer(e);
    noteF16(t);
    types.set(e, t);
    return t;
  };
  /** The type of an operand of scalar or vector operators: a subgroup matrix is none. */
  const plainType = (e: Expr, parent: Expr): ValueType => {
    const t = typeOf(e);
    if (isMatrix(t)) fail(parent, `a subgroup matrix (${t}) is not an operand of '${parent.k}': only matrix operations take one`);
    return t;
  };
  const expectIndex = (e: Expr, parent: Expr | Stmt) => {
    const t = typeOf(e);
    if (t !== 'i32' && t !== 'u32') fail(parent, `index must be i32 or u32, got ${t}`);
  };
  const matrices = matrixChecks({ buffers, shared, requires, configs: matrixConfigs, typeOf, plainType, expectIndex, fail });

  function infer(e: Expr): ValueType {
    switch (e.k) {
      case 'const':
        if (e.type === 'bool' ? typeof e.value !== 'boolean' : typeof e.value !== 'number' || !Number.isFinite(e.value)) {
          fail(e, `constant ${String(e.value)} does not fit type ${e.type}`);
        }
        if ((e.type === 'i32' || e.type === 'u32') && !Number.isInteger(e.value)) fail(e, `integer constant expected`);
        if (e.type === 'f16' && !Number.isFinite(f16Round(e.value as number))) fail(e, `constant ${String(e.value)} overflows f16 (largest 65504)`);
        return e.type;
      case 'ref': {
        const t = varTypes.get(e.name);
        if (!t) fail(e, `unknown variable '${e.name}'`);
        return t!;
      }
      case 'uniform': {
        const u = uniforms.get(e.name);
        if (!u) fail(e, `unknown uniform '${e.name}'`);
        return u!.type;
      }
      case 'builtin':
        if (e.name === 'subgroupInvocationId' || e.name === 'subgroupSize') {
          requires.add('subgroups');
          usesSubgroups = true;
        }
        return 'i32';
      case 'load': {
        const b = buffers.get(e.buf);
        if (!b) fail(e, `unknown buffer '${e.buf}'`);
        expectIndex(e.index, e);
        return b!.type;
      }
      case 'loadShared': {
        const s = shared.get(e.arr);
        if (!s) fail(e, `unknown workgroup array '${e.arr}'`);
        expectIndex(e.index, e);
        return s!.type;
      }
      case 'binary': {
        const a = plainType(e.a, e);
        const b = plainType(e.b, e);
        if (a !== b) fail(e, `operand types differ: ${a} ${e.op} ${b}`);
        const elem = vectorInfo(a).elem;
        // A kernel from JSON may hold any operator: an unknown one has no kind.
        switch (BINARY_KIND[e.op]) {
          case 'arith':
            if (elem === 'bool') fail(e, `arithmetic '${e.op}' on bool`);
            if (e.op === 'pow' && !isFloat(elem)) fail(e, `pow needs f32, got ${a} (or f16)`);
            return a;
          case 'compare':
            if (isVector(a)) fail(e, `comparison of vectors is not supported`);
            if (elem === 'bool' && e.op !== '==' && e.op !== '!=') fail(e, `ordering comparison on bool`);
            return 'bool';
          case 'logic':
            if (a !== 'bool') fail(e, `'${e.op}' needs bool operands, got ${a}`);
            return 'bool';
          case 'bits':
            if (elem !== 'i32' && elem !== 'u32') fail(e, `bit operation '${e.op}' needs integers, got ${a}`);
            return a;
          default:
            return fail(e, `unknown binary operator '${e.op}'`);
        }
      }
      case 'unary': {
        const a = plainType(e.a, e);
        const elem = vectorInfo(a).elem;
        switch (UNARY_OPERAND[e.op]) {
          case 'scalarFloat':
            if (a !== 'f32' && a !== 'f16') fail(e, `'${e.op}' needs a scalar f32, got ${a} (or f16)`);
            return 'bool';
          case 'bool':
            if (a !== 'bool') fail(e, `'not' needs bool, got ${a}`);
            return a;
          case 'float':
            if (!isFloat(elem)) fail(e, `'${e.op}' needs f32, got ${a} (or f16)`);
            return a;
          case 'signed':
            if (elem === 'bool' || elem === 'u32') fail(e, `'${e.op}' needs f32 or i32, got ${a}`);
            return a;
          default:
            return fail(e, `unknown unary operator '${e.op}'`);
        }
      }
      case 'select': {
        if (typeOf(e.cond) !== 'bool') fail(e, `select condition must be bool`);
        const a = plainType(e.a, e);
        const b = plainType(e.b, e);
        if (a !== b) fail(e, `select branches differ: ${a} vs ${b}`);
        return a;
      }
      case 'cast': {
        const a = plainType(e.a, e);
        if (isVector(a)) fail(e, `cast of a vector is not supported`);
        return e.to;
      }
      case 'vec': {
        const { elem, lanes } = vectorInfo(e.type);
        if (e.parts.length !== lanes) fail(e, `${e.type} needs ${lanes} parts, got ${e.parts.length}`);
        for (const p of e.parts) if (plainType(p, e) !== elem) fail(e, `${e.type} part must be ${elem}`);
        return e.type;
      }
      case 'component': {
        const a = plainType(e.a, e);
        const { elem, lanes } = vectorInfo(a);
        if (!isVector(a)) fail(e, `component of non-vector ${a}`);
        if (!Number.isInteger(e.index) || e.index < 0 || e.index >= lanes) fail(e, `component ${e.index} out of range for ${a}`);
        return elem;
      }
      case 'subgroup': {
        requires.add('subgroups');
        usesSubgroups = true;
        const a = plainType(e.a, e);
        if (vectorInfo(a).elem === 'bool') fail(e, `subgroup ${e.op} of bool`);
        if (e.op === 'broadcast' || e.op === 'shuffle') {
          if (!e.lane) fail(e, `subgroup ${e.op} needs a lane`);
          expectIndex(e.lane!, e);
          if (e.op === 'broadcast' && e.lane!.k !== 'const') fail(e, `subgroup broadcast lane must be a constant`);
        } else if (e.lane) fail(e, `subgroup ${e.op} takes no lane`);
        return a;
      }
      case 'matrixFill': case 'matrixLoad': case 'matrixMultiplyAdd':
        return matrices.infer(e);
    }
    return fail(e, `unknown expression kind`);
  }

  const walk = (stmts: Stmt[], loopVars: Set<string>) => {
    for (const s of stmts) {
      switch (s.k) {
        case 'let': {
          const t = typeOf(s.value);
          declare(s, s.name);
          varTypes.set(s.name, t);
          break;
        }
        case 'var': {
          declare(s, s.name);
          if (isMatrix(s.type) && !matrixInfo(s.type)) fail(s, `'${s.type}' is not a subgroup matrix type`);
          if (typeOf(s.init) !== s.type) fail(s, `var '${s.name}' of type ${s.type} initialised with ${types.get(s.init)}`);
          varTypes.set(s.name, s.type);
          mutable.add(s.name);
          break;
        }
        case 'assign': {
          if (!mutable.has(s.name)) fail(s, `assignment to '${s.name}', which is not a var`);
          if (loopVars.has(s.name)) fail(s, `assignment to loop variable '${s.name}'`);
          const t = typeOf(s.value);
          if (t !== varTypes.get(s.name)) fail(s, `assigning ${t} to '${s.name}' of type ${varTypes.get(s.name)}`);
          break;
        }
        case 'store': {
          const b = buffers.get(s.buf);
          if (!b) fail(s, `unknown buffer '${s.buf}'`);
          if (b!.access !== 'read_write') fail(s, `store to read-only buffer '${s.buf}'`);
          expectIndex(s.index, s);
          const t = typeOf(s.value);
          if (t !== b!.type) fail(s, `storing ${t} into buffer '${s.buf}' of ${b!.type}`);
          break;
        }
        case 'storeShared': {
          const a = shared.get(s.arr);
          if (!a) fail(s, `unknown workgroup array '${s.arr}'`);
          expectIndex(s.index, s);
          const t = typeOf(s.value);
          if (t !== a!.type) fail(s, `storing ${t} into workgroup array '${s.arr}' of ${a!.type}`);
          break;
        }
        case 'if':
          if (typeOf(s.cond) !== 'bool') fail(s, `if condition must be bool, got ${types.get(s.cond)}`);
          walk(s.then, loopVars);
          walk(s.else, loopVars);
          break;
        case 'for': {
          if (typeOf(s.from) !== 'i32' || typeOf(s.to) !== 'i32') fail(s, `for-range bounds must be i32`);
          if (!Number.isInteger(s.step) || s.step < 1) fail(s, `for-range step must be a positive integer constant`);
          declare(s, s.name);
          varTypes.set(s.name, 'i32');
          mutable.add(s.name);
          walk(s.body, new Set([...loopVars, s.name]));
          break;
        }
        case 'matrixStore':
          matrices.store(s);
          break;
        case 'barrier':
          usesBarrier = true;
          requires.add('workgroupMemory');
          break;
        case 'return':
          break;
        default:
          fail(s, `unknown statement kind`);
      }
    }
  };
  walk(kernel.body, new Set());
  if (kernel.map) {
    const m = kernel.map;
    const out = buffers.get(m.output);
    if (!out || out.access !== 'read_write') throw new KernelValidationError(kernel.name, 'map', `map output '${m.output}' must be a read_write buffer`);
    if (kernel.buffers.filter((b) => b.access === 'read_write').length !== 1) {
      throw new KernelValidationError(kernel.name, 'map', `a map kernel writes exactly one buffer`);
    }
    if (usesBarrier || usesSubgroups || requires.has('subgroupMatrix') || kernel.shared.length) {
      throw new KernelValidationError(kernel.name, 'map', `a map kernel uses no workgroup memory, barriers, subgroups or subgroup matrices`);
    }
  }
  const usesMatrices = requires.has('subgroupMatrix');
  const info = { types, varTypes, requires, usesBarrier, usesSubgroups, usesMatrices, matrixConfigs };
  infoCache.set(kernel, info);
  return info;
}
