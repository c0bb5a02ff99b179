// IR -> gpu.js kernel source. Only map kernels lower (one output element per invocation, bounded
// loops, gather reads): their body is `let idx = linearId; if (idx < count) { ...; out[idx] = value }`,
// which becomes a gpu.js kernel function over a 1-D output whose `this.thread.x` is idx and whose
// return value is `value`.
//
// Numbers: every value is a JavaScript number inside gpu.js, and gpu.js computes in f32 on its device
// modes (WebGPU, WebGL, WebAssembly). i32/u32 values are therefore carried as floats holding exact
// integers, which is exact while every integer stays within ±2^24 (sizes and indices are checked by the
// backend, see limits.ts). Integer division and remainder are emitted as helper functions with the IR's
// meaning (truncating; x / 0 = x, x % 0 = 0); on modes whose float division is not correctly rounded
// (WebGPU, WebGL) the quotient is corrected with an exact remainder test. i32 wrap-around on overflow is
// not reproduced (values beyond 2^24 are refused before they can arise from sizes).
import type { BinaryOp, Expr, Kernel, KernelInfo, ScalarType, Stmt, UnaryOp, ValueType } from '@cce/core';
import { isVector } from '@cce/core';

export interface LowerOptions {
  /** Wrap every f32 result in Math.fround (gpu.js 'cpu' mode computes in float64 otherwise). */
  roundF32: boolean;
  /** Float division is correctly rounded (WebAssembly, JavaScript), so trunc(a / b) is exact below 2^24. */
  exactDivision: boolean;
  /**
   * When set, the kernel covers the whole output and invocations at or past this extra uniform (the
   * number of elements to compute) return the output's previous value, read from the output bound as an
   * input: device modes, where a gpu.js kernel always writes its whole output, use it when a dispatch
   * computes fewer elements than the output holds.
   */
  tailUniform?: string;
}

/** One argument of the generated kernel function, in order. */
export type LoweredParam =
  | { kind: 'buffer'; name: string; elem: ScalarType; isOutput: boolean }
  | { kind: 'uniform'; name: string; type: ScalarType };

export interface LoweredKernel {
  /** `function (b_x, ..., u_n, ...) { ... }`, ready for gpu.createKernel. */
  source: string;
  params: LoweredParam[];
  /** The output buffer's name, and whether its previous contents are an input. */
  output: string;
  outputElem: ScalarType;
  readsOutput: boolean;
  /** Whether the body has a loop (its per-element work grows with a uniform). */
  loops: boolean;
}

export class LoweringError extends Error {
  constructor(kernel: string, message: string) {
    super(`gpujs: kernel '${kernel}' cannot be lowered to gpu.js: ${message}`);
    this.name = 'LoweringError';
  }
}

const vName = (n: string) => `v_${n}`;
const bName = (n: string) => `b_${n}`;
const uName = (n: string) => `u_${n}`;

/** Checks the map kernel's shape and returns its parts: the statements before the store and the stored value. */
export function mapParts(kernel: Kernel): { stmts: Stmt[]; value: Expr } {
  const fail = (msg: string): never => {
    throw new LoweringError(kernel.name, msg);
  };
  const m = kernel.map;
  if (!m) return fail('it is not a map kernel (gpu.js runs only map kernels: one output element per invocation)');
  const [first, second, ...rest] = kernel.body;
  if (!first || first.k !== 'let' || first.name !== m.index || rest.length) {
    return fail(`a map kernel's body must be exactly 'let ${m.index} = linearId; if (${m.index} < ${m.count}) { ... }'`);
  }
  if (!isLinearId(first.value)) fail(`the index '${m.index}' must be the invocation's linear id`);
  const guard = second;
  if (!guard || guard.k !== 'if' || guard.else.length || !isIndexGuard(guard.cond, m.index, m.count)) {
    return fail(`a map kernel's body must be guarded by 'if (${m.index} < ${m.count})' with no else branch`);
  }
  const last = guard.then[guard.then.length - 1];
  if (!last || last.k !== 'store' || last.buf !== m.output || !(last.index.k === 'ref' && last.index.name === m.index)) {
    return fail(`a map kernel must end with '${m.output}[${m.index}] = value'`);
  }
  const stmts = guard.then.slice(0, -1);
  const walk = (ss: Stmt[]) => {
    for (const s of ss) {
      if (s.k === 'store') fail(`only the final '${m.output}[${m.index}] = value' may store (found a store to '${s.buf}')`);
      if (s.k === 'return') fail(`'return' is not supported in a map kernel's body`);
      if (s.k === 'barrier' || s.k === 'storeShared') fail(`workgroup memory and barriers are not available on gpu.js`);
      if (s.k === 'if') {
        walk(s.then);
        walk(s.else);
      }
      if (s.k === 'for') walk(s.body);
    }
  };
  walk(stmts);
  return { stmts, value: last.value };
}

function isLinearId(e: Expr): boolean {
  switch (e.k) {
    case 'builtin': return e.name === 'globalId' || e.name === 'numWorkgroups';
    case 'const': return true;
    case 'binary': return (e.op === '+' || e.op === '*') && isLinearId(e.a) && isLinearId(e.b);
    default: return false;
  }
}

function isIndexGuard(e: Expr, index: string, count: string): boolean {
  return e.k === 'binary' && e.op === '<' && e.a.k === 'ref' && e.a.name === index && e.b.k === 'uniform' && e.b.name === count;
}

/** Lowers a validated map kernel (`info` from validateKernel) to gpu.js kernel source. */
export function lowerMapKernel(kernel: Kernel, info: KernelInfo, opts: LowerOptions): LoweredKernel {
  const fail = (msg: string): never => {
    throw new LoweringError(kernel.name, msg);
  };
  const { stmts, value } = mapParts(kernel);
  const m = kernel.map!;
  // gpu.js computes and stores f32: f16 is refused rather than emulated (by rounding, or packed in pairs).
  if (info.requires.has('f16')) fail(`it uses f16, which gpu.js has no storage or arithmetic for`);
  for (const b of kernel.buffers) {
    if (isVector(b.type)) fail(`buffer '${b.name}' has the vector type ${b.type}; gpu.js lowering takes scalar buffers only (use the map variant)`);
  }
  for (const [name, t] of info.varTypes) {
    if (isVector(t)) fail(`variable '${name}' has the vector type ${t}; gpu.js lowering takes scalars only`);
  }
  const typeOf = (e: Expr): ValueType => {
    const t = info.types.get(e);
    if (!t) return fail(`internal: no type for ${JSON.stringify(e).slice(0, 80)}`);
    if (isVector(t)) return fail(`vector expression (${t}) is not supported on gpu.js`);
    return t;
  };
  const outDecl = kernel.buffers.find((b) => b.name === m.output)!;
  const outputElem = outDecl.type as ScalarType;

  let usesIdiv = false;
  let loops = false;
  let usesImod = false;
  const tail = opts.tailUniform;
  if (tail !== undefined && kernel.uniforms.some((u) => u.name === tail)) fail(`a uniform is named '${tail}', which the lowering reserves`);
  let readsOutput = tail !== undefined;
  const f = (s: string) => (opts.roundF32 ? `Math.fround(${s})` : `(${s})`);

  const literal = (e: Extract<Expr, { k: 'const' }>): string => {
    if (e.type === 'bool') return e.value ? 'true' : 'false';
    const v = e.value as number;
    const n = e.type === 'f32' ? Math.fround(v) : e.type === 'i32' ? v | 0 : v >>> 0;
    const text = Object.is(n, -0) ? '0' : String(n);
    return n < 0 ? `(${text})` : text;
  };

  type Emit2 = (a: string, b: string, t: ScalarType) => string;
  const plain = (op: BinaryOp): Emit2 => (a, b) => `(${a} ${op} ${b})`;
  // gpu.js 2.24 types only '<' and '>' (and && / ||) as Boolean: a variable initialised from '==',
  // '!=', '<=' or '>=' would take the left operand's type. '&& true' makes it a logical expression.
  const logical = (op: BinaryOp): Emit2 => (a, b) => `((${a} ${op} ${b}) && true)`;
  // i32 / u32 are carried as exact integers in floats.
  const arith = (op: '+' | '-' | '*'): Emit2 => (a, b, t) => (t === 'f32' ? f(`${a} ${op} ${b}`) : `(${a} ${op} ${b})`);
  const bits = (op: '&' | '|' | '^' | '<<'): Emit2 => (a, b, t) =>
    t === 'f32' ? fail(`operator '${op}' on f32`) : t === 'u32' ? `((${a} ${op} ${b}) >>> 0)` : `(${a} ${op} ${b})`;
  const BINARY_OPS: Record<BinaryOp, Emit2> = {
    '+': arith('+'), '-': arith('-'), '*': arith('*'),
    // The Math.trunc wrapper is a no-op on the helper's integer result; it gives the call a type that
    // gpu.js's type tracer can see (it cannot type a variable initialised from a nested function call).
    '/': (a, b, t) => {
      if (t === 'f32') return f(`${a} / ${b}`);
      usesIdiv = true;
      return `Math.trunc(cce_idiv(${a}, ${b}))`;
    },
    '%': (a, b, t) => {
      if (t === 'f32') return f(`${a} % ${b}`);
      usesImod = true;
      return `Math.trunc(cce_imod(${a}, ${b}))`;
    },
    '<': plain('<'), '>': plain('>'), '&&': plain('&&'), '||': plain('||'),
    '<=': logical('<='), '>=': logical('>='), '==': logical('=='), '!=': logical('!='),
    '&': bits('&'), '|': bits('|'), '^': bits('^'), '<<': bits('<<'),
    '>>': (a, b, t) => (t === 'f32' ? fail(`operator '>>' on f32`) : t === 'u32' ? `(${a} >>> ${b})` : `(${a} >> ${b})`),
    min: (a, b) => `Math.min(${a}, ${b})`,
    max: (a, b) => `Math.max(${a}, ${b})`,
    pow: (a, b) => f(`Math.pow(${a}, ${b})`),
  };
  const binary = (e: Extract<Expr, { k: 'binary' }>): string => {
    const t = typeOf(e.a) as ScalarType;
    return BINARY_OPS[e.op](ex(e.a), ex(e.b), t);
  };

  type Emit1 = (a: string, t: ScalarType) => string;
  const float = (fn: 'exp' | 'log' | 'sqrt' | 'sin' | 'cos'): Emit1 => (a, t) => (t !== 'f32' ? fail(`'${fn}' of ${t}`) : f(`Math.${fn}(${a})`));
  const UNARY_OPS: Record<UnaryOp, Emit1> = {
    not: (a) => `(!${a})`,
    isNan: (a) => `(${a} !== ${a})`,
    isFinite: (a) => `(${a} - ${a} === 0)`,
    neg: (a) => `(-${a})`,
    abs: (a) => `Math.abs(${a})`,
    rsqrt: (a) => f(`1 / Math.sqrt(${a})`),
    floor: (a) => `Math.floor(${a})`,
    ceil: (a) => `Math.ceil(${a})`,
    // Clamped as the WGSL lowering does (exact in f32), so that an exp-based tanh cannot overflow;
    // Math.max and Math.min keep a NaN.
    tanh: (a, t) => (t !== 'f32' ? fail(`'tanh' of ${t}`) : f(`Math.tanh(Math.min(Math.max(${a}, -15), 15))`)),
    exp: float('exp'), log: float('log'), sqrt: float('sqrt'), sin: float('sin'), cos: float('cos'),
  };
  const unary = (e: Extract<Expr, { k: 'unary' }>): string => {
    const t = typeOf(e.a) as ScalarType;
    return UNARY_OPS[e.op](ex(e.a), t);
  };

  const cast = (from: ScalarType, to: ScalarType, a: string): string => {
    if (from === to) return a;
    if (to === 'bool') return `((${a} != 0) && true)`;
    if (from === 'bool') return `(${a} ? 1 : 0)`;
    if (to === 'f32') return opts.roundF32 ? `Math.fround(${a})` : a;
    if (from === 'f32') {
      // truncate and clamp as WGSL does; NaN becomes 0
      return to === 'i32'
        ? `(${a} == ${a} ? Math.min(Math.max(Math.trunc(${a}), -2147483648), 2147483520) : 0)`
        : `(${a} == ${a} ? Math.min(Math.max(Math.trunc(${a}), 0), 4294967040) : 0)`;
    }
    return to === 'u32' ? `(${a} < 0 ? ${a} + 4294967296 : ${a})` : `(${a} >= 2147483648 ? ${a} - 4294967296 : ${a})`;
  };

  const ex = (e: Expr): string => {
    typeOf(e);
    switch (e.k) {
      case 'const': return literal(e);
      case 'ref': return vName(e.name);
      case 'uniform': return uName(e.name);
      case 'load':
        if (e.buf === m.output) readsOutput = true;
        return `${bName(e.buf)}[${ex(e.index)}]`;
      case 'binary': return binary(e);
      case 'unary': return unary(e);
      case 'select': return `(${ex(e.cond)} ? ${ex(e.a)} : ${ex(e.b)})`;
      case 'cast': return cast(typeOf(e.a) as ScalarType, e.to, ex(e.a));
      case 'builtin': return fail(`builtin '${e.name}' used inside the body (a map kernel sees only its index)`);
      case 'loadShared': return fail(`workgroup memory is not available on gpu.js`);
      case 'vec': case 'component': return fail(`vector expressions are not supported on gpu.js`);
      case 'subgroup': return fail(`subgroup operations are not available on gpu.js`);
      case 'matrixFill': case 'matrixLoad': case 'matrixMultiplyAdd': return fail(`subgroup matrices are not available on gpu.js`);
    }
  };

  const st = (s: Stmt, ind: string): string => {
    switch (s.k) {
      case 'let': return `${ind}const ${vName(s.name)} = ${ex(s.value)};`;
      case 'var': return `${ind}let ${vName(s.name)} = ${ex(s.init)};`;
      case 'assign': return `${ind}${vName(s.name)} = ${ex(s.value)};`;
      case 'if': {
        const els = s.else.length ? ` else {\n${block(s.else, ind + '  ')}\n${ind}}` : '';
        return `${ind}if (${ex(s.cond)}) {\n${block(s.then, ind + '  ')}\n${ind}}${els}`;
      }
      case 'for': {
        loops = true;
        const v = vName(s.name);
        return `${ind}for (let ${v} = ${ex(s.from)}; ${v} < ${ex(s.to)}; ${v} = ${v} + ${s.step}) {\n${block(s.body, ind + '  ')}\n${ind}}`;
      }
      default: return fail(`statement '${s.k}' is not supported in a map kernel`);
    }
  };
  const block = (ss: Stmt[], ind: string): string => ss.map((s) => st(s, ind)).join('\n');

  const idx = vName(m.index);
  const lines: string[] = [];
  // Math.floor turns gpu.js's integer thread id into a float, so that all arithmetic stays in one type.
  lines.push(`  const ${idx} = Math.floor(this.thread.x);`);
  if (tail !== undefined) lines.push(`  if (${idx} >= ${uName(tail)}) { return ${bName(m.output)}[${idx}]; }`);
  const body = block(stmts, '  ');
  const result = ex(value);
  if (body) lines.push(body);
  lines.push(`  return ${result};`);

  const helpers: string[] = [];
  if (usesIdiv || usesImod) helpers.push(idivSource(opts.exactDivision));
  if (usesImod) {
    helpers.push(
      '  function cce_imod(a, b) {\n' +
      '    if (b == 0) { return 0; }\n' +
      '    return a - Math.trunc(cce_idiv(a, b)) * b;\n' +
      '  }');
  }

  const params: LoweredParam[] = [];
  for (const b of kernel.buffers) {
    const isOutput = b.name === m.output;
    if (isOutput && !readsOutput) continue;
    params.push({ kind: 'buffer', name: b.name, elem: b.type as ScalarType, isOutput });
  }
  for (const u of kernel.uniforms) params.push({ kind: 'uniform', name: u.name, type: u.type });
  if (tail !== undefined) params.push({ kind: 'uniform', name: tail, type: 'i32' });
  const names = params.map((p) => (p.kind === 'buffer' ? bName(p.name) : uName(p.name)));
  const source = `function (${names.join(', ')}) {\n${[...helpers, ...lines].join('\n')}\n}`;
  return { source, params, output: m.output, outputElem, readsOutput, loops };
}

/** Truncating integer division of exact-integer floats, x / 0 = x (the IR's WGSL meaning). */
function idivSource(exact: boolean): string {
  if (exact) {
    return (
      '  function cce_idiv(a, b) {\n' +
      '    if (b == 0) { return a; }\n' +
      '    return Math.trunc(a / b);\n' +
      '  }');
  }
  // GPU float division may be off by a few ulps: take floor(|a| / |b|) and correct it by the exact
  // remainder (all values below 2^24, so products and differences are exact).
  return (
    '  function cce_idiv(a, b) {\n' +
    '    if (b == 0) { return a; }\n' +
    '    const aa = Math.abs(a);\n' +
    '    const bb = Math.abs(b);\n' +
    '    let q = Math.floor(aa / bb);\n' +
    '    const r = aa - q * bb;\n' +
    '    if (r < 0) { q = q - 1; }\n' +
    '    if (r >= bb) { q = q + 1; }\n' +
    '    if ((a < 0 && b > 0) || (a > 0 && b < 0)) { return -q; }\n' +
    '    return q;\n' +
    '  }');
}
