// IR -> WGSL. The generated shader mirrors the CPU reference's semantics (cpu/codegen.ts):
// - builtins are i32 (WGSL's u32 ids are cast with i32()), so index arithmetic stays in one type;
// - i32/u32 arithmetic wraps and integer division by zero yields the dividend (WGSL's run-time rule;
//   constant operands, which WGSL would reject at shader creation, are folded in const-fold.ts);
// - IR `select(cond, a, b)` is `cond ? a : b`, i.e. WGSL `select(b, a, cond)`;
// - shift amounts are taken modulo 32 (masked explicitly, as the CPU reference does);
// - f32 min and max propagate a NaN, as the reference's Math.min and Math.max do (WGSL's may drop it);
// - tanh clamps its argument to [-15, 15] first, which is exact in f32 (tanh(9.1) already rounds to 1)
//   and keeps drivers that compute tanh through exp from overflowing to NaN; a NaN argument is passed
//   through (clamp alone would make it a number).
// - f16 values need `enable f16;` (the device's shader-f16); their NaN tests go through f32;
// - subgroup matrices lower to Chromium's experimental extension (Dawn's spelling: the matrix type
//   and its majorness as template arguments of subgroupMatrixLoad / Store); its uniformity diagnostic
//   is off, as the subgroups one is, since offsets derived from a subgroup's index within its
//   workgroup are subgroup-uniform but not workgroup-uniform, which is all WGSL's analysis can prove.
// Bindings: group 0 holds the storage buffers in declaration order (binding i = kernel.buffers[i]),
// group 1 binding 0 the uniforms as one struct `params` (one 4-byte field each, declaration order).
import type { BinaryOp, Expr, Kernel, MatrixSpace, ScalarType, Stmt, UnaryOp, ValueType } from '@cce/core';
import { type KernelInfo, f16Round, isFloat, validateKernel, vectorInfo } from '@cce/core';
import { type Value, evaluate, isConstExpr } from './const-fold.js';

/** Words WGSL reserves or defines (keywords, reserved words, builtin functions and types we could shadow). */
const RESERVED = new Set(`
alias break case const const_assert continue continuing default diagnostic discard else enable false fn for if let
loop override requires return struct switch true var while
NULL Self abstract active alignas alignof as asm asm_fragment async attribute auto await become binding_array cast
catch class co_await co_return co_yield coherent column_major common compile compile_fragment concept const_cast
consteval constexpr constinit crate debugger decltype delete demote demote_to_helper do dynamic_cast enum explicit
export extends extern external fallthrough filter final finally friend from fxgroup get goto groupshared highp impl
implements import inline instanceof interface layout lowp macro macro_rules match mediump meta mod module move mut
mutable namespace new nil noexcept noinline nointerpolation non_coherent noncoherent noperspective null nullptr of
operator package packoffset partition pass patch pixelfragment precise precision premerge priv protected pub public
readonly ref regardless register reinterpret_cast require resource restrict self set shared signed sizeof smooth snorm
static static_assert static_cast std subroutine super target template this thread_local throw trait try type typedef
typeid typename typeof union unless unorm unsafe unsized use using varying virtual volatile wgsl where with writeonly
yield
array atomic bool f16 f32 i32 u32 mat2x2 mat3x3 mat4x4 ptr sampler texture_2d vec2 vec3 vec4 uniform storage
workgroup read read_write write function private
abs acos all any asin atan atan2 ceil clamp cos cosh cross degrees determinant distance dot exp exp2 faceForward
floor fma fract frexp inverseSqrt ldexp length log log2 max min mix modf normalize pow radians reflect refract round
saturate select sign sin sinh smoothstep sqrt step tan tanh transpose trunc arrayLength bitcast
workgroupBarrier storageBarrier subgroupAdd subgroupMax subgroupMin subgroupBroadcast subgroupShuffle
main params Params gid lid wid nwg lidx sg_id sg_size
`.split(/\s+/).filter(Boolean));

/** WGSL names for the kernel's identifiers: the IR name where it is safe, else the name plus '_'. */
function nameMap(kernel: Kernel, info: KernelInfo): Map<string, string> {
  const all = new Set<string>([
    ...kernel.buffers.map((b) => b.name), ...kernel.uniforms.map((u) => u.name),
    ...kernel.shared.map((s) => s.name), ...info.varTypes.keys(),
  ]);
  const taken = new Set(all);
  const map = new Map<string, string>();
  for (const n of all) {
    if (!RESERVED.has(n) && !n.startsWith('__') && n !== '_') {
      map.set(n, n);
      continue;
    }
    let m = `${n.replace(/^_+/, 'v_')}_`;
    while (taken.has(m) || RESERVED.has(m)) m += '_';
    taken.add(m);
    map.set(n, m);
  }
  return map;
}

function floatLiteral(v: number, t: 'f32' | 'f16'): string {
  const x = t === 'f16' ? f16Round(v) : Math.fround(v);
  const suffix = t === 'f16' ? 'h' : 'f';
  if (Object.is(x, -0)) return `-0.0${suffix}`;
  let s = String(x);
  if (!/[.e]/.test(s)) s += '.0';
  return `${s}${suffix}`;
}

function literal(e: Extract<Expr, { k: 'const' }>): string {
  if (e.type === 'bool') return String(e.value);
  const v = e.value as number;
  if (e.type === 'f32' || e.type === 'f16') return floatLiteral(v, e.type);
  if (e.type === 'u32') return `${v >>> 0}u`;
  const i = v | 0;
  if (i === -2147483648) return 'i32(-2147483647 - 1)';
  return `${i}i`;
}

const BUILTINS = {
  globalId: { param: 'gid', decl: '@builtin(global_invocation_id) gid: vec3<u32>', vector: true },
  localId: { param: 'lid', decl: '@builtin(local_invocation_id) lid: vec3<u32>', vector: true },
  workgroupId: { param: 'wid', decl: '@builtin(workgroup_id) wid: vec3<u32>', vector: true },
  numWorkgroups: { param: 'nwg', decl: '@builtin(num_workgroups) nwg: vec3<u32>', vector: true },
  localIndex: { param: 'lidx', decl: '@builtin(local_invocation_index) lidx: u32', vector: false },
  subgroupInvocationId: { param: 'sg_id', decl: '@builtin(subgroup_invocation_id) sg_id: u32', vector: false },
  subgroupSize: { param: 'sg_size', decl: '@builtin(subgroup_size) sg_size: u32', vector: false },
} as const;

const wgslType = (t: ValueType): string => t;

/** The WGSL source of a kernel; throws KernelValidationError for an invalid kernel. */
export function generateWgsl(kernel: Kernel, info: KernelInfo = validateKernel(kernel)): string {
  const names = nameMap(kernel, info);
  const nm = (n: string) => names.get(n) ?? n;
  const typeOf = (e: Expr): ValueType => info.types.get(e)!;
  const usedBuiltins = new Set<keyof typeof BUILTINS>();

  // Expressions print with the fewest parentheses WGSL accepts: each result carries its precedence level
  // (ATOM: literals, names, calls, indexing; UNARY; MUL; ADD; REL; and the operators WGSL refuses to mix,
  // which always take atoms or unary operands).
  const ATOM = 10, UNARY = 9, MUL = 8, ADD = 7, REL = 5, LOGIC = 4, BITS = 3;
  type P = { s: string; p: number; op?: string };
  const wrap = (x: P, min: number): string => (x.p >= min ? x.s : `(${x.s})`);
  const ex = (e: Expr): string => exp(e).s;

  const constant = (v: Value, t: ValueType): P => {
    const { elem } = vectorInfo(t);
    const one = (x: number | boolean) => literal({ k: 'const', type: elem, value: x });
    if (!Array.isArray(v)) {
      const s = one(v);
      return { s, p: s.startsWith('-') ? UNARY : ATOM };
    }
    return { s: `${t}(${v.map(one).join(', ')})`, p: ATOM };
  };

  const exp = (e: Expr): P => {
    // Integer and bool const-expressions are folded (WGSL would reject x / 0, overflow, ... in them).
    if (e.k !== 'const' && isConstExpr(e) && !isFloat(vectorInfo(typeOf(e)).elem)) return constant(evaluate(e, typeOf), typeOf(e));
    switch (e.k) {
      case 'const': {
        const s = literal(e);
        return { s, p: s.startsWith('-') ? UNARY : ATOM };
      }
      case 'ref': return { s: nm(e.name), p: ATOM };
      case 'uniform': return { s: `params.${nm(e.name)}`, p: ATOM };
      case 'builtin': {
        usedBuiltins.add(e.name);
        const b = BUILTINS[e.name];
        return { s: b.vector ? `i32(${b.param}.${'xyz'[e.axis]})` : `i32(${b.param})`, p: ATOM };
      }
      case 'load': return { s: `${nm(e.buf)}[${ex(e.index)}]`, p: ATOM };
      case 'loadShared': return { s: `${nm(e.arr)}[${ex(e.index)}]`, p: ATOM };
      case 'binary': return binary(e);
      case 'unary': return unary(e);
      case 'select': return { s: `select(${ex(e.b)}, ${ex(e.a)}, ${ex(e.cond)})`, p: ATOM };
      case 'cast': return cast(e);
      case 'vec': {
        const parts = e.parts.map(ex);
        // A splat reads better as vec4<f32>(x).
        if (parts.every((q) => q === parts[0]) && e.parts[0]!.k !== 'subgroup') return { s: `${e.type}(${parts[0]})`, p: ATOM };
        return { s: `${e.type}(${parts.join(', ')})`, p: ATOM };
      }
      case 'component': return { s: `${wrap(exp(e.a), ATOM)}.${'xyzw'[e.index]}`, p: ATOM };
      case 'subgroup': {
        const fn = { add: 'subgroupAdd', max: 'subgroupMax', min: 'subgroupMin', broadcast: 'subgroupBroadcast', shuffle: 'subgroupShuffle' }[e.op];
        // Lanes are i32 in the IR, which WGSL accepts as they are (broadcast's is a constant).
        return { s: e.lane ? `${fn}(${ex(e.a)}, ${ex(e.lane)})` : `${fn}(${ex(e.a)})`, p: ATOM };
      }
      case 'matrixFill': return { s: `${e.type}(${ex(e.value)})`, p: ATOM };
      case 'matrixLoad':
        return { s: `subgroupMatrixLoad<${e.type}, ${majorness(e.colMajor)}>(${pointer(e.space, e.src)}, ${ex(e.offset)}, ${ex(e.stride)})`, p: ATOM };
      case 'matrixMultiplyAdd': return { s: `subgroupMatrixMultiplyAccumulate(${ex(e.a)}, ${ex(e.b)}, ${ex(e.acc)})`, p: ATOM };
    }
  };
  // An f16 NaN converts to the integer 0, as the IR says (the f16 clamp WGSL's conversion is built on
  // gives -65504 on lavapipe); f32 conversions are left to WGSL, whose drivers give 0.
  const cast = (e: Extract<Expr, { k: 'cast' }>): P => {
    const from = typeOf(e.a) as ScalarType;
    if (from === e.to) return exp(e.a);
    const a = ex(e.a);
    if (from === 'f16' && (e.to === 'i32' || e.to === 'u32')) {
      return { s: `select(${e.to}(${a}), ${e.to === 'i32' ? '0i' : '0u'}, ${isNanBits(a, 1, 'f16')})`, p: ATOM };
    }
    return { s: `${e.to}(${a})`, p: ATOM };
  };
  const majorness = (colMajor: boolean) => (colMajor ? 'col_major' : 'row_major');
  // Offsets and strides may be i32 or u32 in WGSL: the IR's i32 passes as it is.
  const pointer = (_space: MatrixSpace, name: string) => `&${nm(name)}`;

  type BinaryExpr = Extract<Expr, { k: 'binary' }>;
  type UnaryExpr = Extract<Expr, { k: 'unary' }>;
  const infix = (left: number, right: number, p: number) => (a: P, b: P, e: BinaryExpr): P =>
    ({ s: `${wrap(a, left)} ${e.op} ${wrap(b, right)}`, p });
  // Operators WGSL refuses to mix: a chain of the same one needs no parentheses.
  const chain = (operand: number, p: number) => (a: P, b: P, e: BinaryExpr): P =>
    ({ s: `${a.op === e.op ? a.s : wrap(a, operand)} ${e.op} ${wrap(b, operand)}`, p, op: e.op });
  const minMax = (a: P, b: P, e: BinaryExpr): P => {
    const plain = `${e.op}(${a.s}, ${b.s})`;
    const { elem, lanes } = vectorInfo(typeOf(e.a));
    if (!isFloat(elem)) return { s: plain, p: ATOM };
    // WGSL's min and max may drop a NaN; the IR's (the reference's) propagate it: a + b is then NaN.
    return { s: `select(${plain}, ${wrap(a, ADD)} + ${wrap(b, MUL)}, (${isNanBits(a.s, lanes, elem)}) | (${isNanBits(b.s, lanes, elem)}))`, p: ATOM };
  };
  const divide = (a: P, b: P, e: BinaryExpr): P => {
    const elem = vectorInfo(typeOf(e.a)).elem;
    if (elem !== 'f32' && isConstExpr(e.b)) {
      // A constant divisor with zero lanes: those lanes take the IR's result (x / 0 = x, x % 0 = 0).
      const t = typeOf(e.a);
      const { lanes } = vectorInfo(t);
      const d = evaluate(e.b, typeOf);
      const ds = Array.isArray(d) ? d : [d];
      if (ds.some((x) => x === 0)) {
        const zero = literal({ k: 'const', type: elem, value: 0 });
        const lane = (i: number, x: number | boolean) => {
          const ai = lanes === 1 ? wrap(a, MUL) : `${wrap(a, ATOM)}.${'xyzw'[i]}`;
          if (x === 0) return e.op === '/' ? ai : zero;
          return `${ai} ${e.op} ${literal({ k: 'const', type: elem, value: x })}`;
        };
        if (lanes === 1) return ds[0] === 0 ? (e.op === '/' ? a : { s: zero, p: ATOM }) : { s: lane(0, ds[0]!), p: MUL };
        return { s: `${t}(${ds.map((x, i) => lane(i, x)).join(', ')})`, p: ATOM };
      }
    }
    return { s: `${wrap(a, MUL)} ${e.op} ${wrap(b, UNARY)}`, p: MUL };
  };
  const shift = (a: P, b: P, e: BinaryExpr): P => {
    // WGSL takes the shift amount as u32 (masked to 5 bits at run time); lanes stay in step for vectors.
    const { lanes } = vectorInfo(typeOf(e.b));
    const amount = vectorInfo(typeOf(e.a)).elem === 'u32' ? wrap(b, UNARY) : lanes === 1 ? `u32(${b.s})` : `vec${lanes}<u32>(${b.s})`;
    const mask = lanes === 1 ? '31u' : `vec${lanes}<u32>(31u)`;
    return { s: `${wrap(a, UNARY)} ${e.op} (${amount} & ${mask})`, p: BITS };
  };
  const compare = infix(ADD, ADD, REL);
  const BINARY_OPS: Record<BinaryOp, (a: P, b: P, e: BinaryExpr) => P> = {
    '+': infix(ADD, MUL, ADD), '-': infix(ADD, MUL, ADD), '*': infix(MUL, UNARY, MUL), '/': divide, '%': divide,
    '<': compare, '<=': compare, '>': compare, '>=': compare, '==': compare, '!=': compare,
    '&&': chain(REL, LOGIC), '||': chain(REL, LOGIC),
    '&': chain(UNARY, BITS), '|': chain(UNARY, BITS), '^': chain(UNARY, BITS), '<<': shift, '>>': shift,
    min: minMax, max: minMax,
    pow: (a, b) => ({ s: `pow(${a.s}, ${b.s})`, p: ATOM }),
  };
  const binary = (e: BinaryExpr): P => BINARY_OPS[e.op](exp(e.a), exp(e.b), e);

  // Exponent all ones and a non-zero mantissa: a bit test that no float optimisation can fold away
  // (lavapipe folds `x != x` to false). An f16 is tested as the f32 it converts to exactly.
  const asF32 = (x: string, lanes: number, elem: ScalarType) => (elem !== 'f16' ? x : lanes === 1 ? `f32(${x})` : `vec${lanes}<f32>(${x})`);
  const isNanBits = (x: string, lanes: number, elem: ScalarType): string => {
    const u = lanes === 1 ? 'u32' : `vec${lanes}<u32>`;
    const word = (v: string) => (lanes === 1 ? v : `${u}(${v})`);
    return `(bitcast<${u}>(${asF32(x, lanes, elem)}) & ${word('0x7fffffffu')}) > ${word('0x7f800000u')}`;
  };
  const fn = (name: string) => (a: P): P => ({ s: `${name}(${a.s})`, p: ATOM });
  const UNARY_OPS: Record<UnaryOp, (a: P, e: UnaryExpr) => P> = {
    neg: (a) => ({ s: `-${wrap(a, ATOM)}`, p: UNARY }),
    not: (a) => ({ s: `!${wrap(a, ATOM)}`, p: UNARY }),
    exp: fn('exp'), log: fn('log'), sqrt: fn('sqrt'), rsqrt: fn('inverseSqrt'), abs: fn('abs'),
    floor: fn('floor'), ceil: fn('ceil'), sin: fn('sin'), cos: fn('cos'),
    tanh: (a, e) => {
      const t = typeOf(e.a);
      const { elem, lanes } = vectorInfo(t);
      const s = elem === 'f16' ? 'h' : 'f';
      const lim = (v: string) => (lanes === 1 ? v : `${t}(${v})`);
      // clamp would turn a NaN into a number: NaN passes through as the reference's tanh gives it.
      return { s: `select(tanh(clamp(${a.s}, ${lim(`-15.0${s}`)}, ${lim(`15.0${s}`)})), ${a.s}, ${isNanBits(a.s, lanes, elem)})`, p: ATOM };
    },
    isNan: (a, e) => ({ s: isNanBits(a.s, 1, typeOf(e.a) as ScalarType), p: REL }),
    isFinite: (a, e) => ({ s: `(bitcast<u32>(${asF32(a.s, 1, typeOf(e.a) as ScalarType)}) & 0x7f800000u) != 0x7f800000u`, p: REL }),
  };
  const unary = (e: UnaryExpr): P => UNARY_OPS[e.op](exp(e.a), e);

  const stmt = (s: Stmt, ind: string): string[] => {
    switch (s.k) {
      case 'let': return [`${ind}let ${nm(s.name)} = ${ex(s.value)};`];
      case 'var': return [`${ind}var ${nm(s.name)}: ${wgslType(s.type)} = ${ex(s.init)};`];
      case 'assign': return [`${ind}${nm(s.name)} = ${ex(s.value)};`];
      case 'store': return [`${ind}${nm(s.buf)}[${ex(s.index)}] = ${ex(s.value)};`];
      case 'storeShared': return [`${ind}${nm(s.arr)}[${ex(s.index)}] = ${ex(s.value)};`];
      case 'if': {
        const out = [`${ind}if (${ex(s.cond)}) {`, ...block(s.then, ind + '  ')];
        if (s.else.length) out.push(`${ind}} else {`, ...block(s.else, ind + '  '));
        out.push(`${ind}}`);
        return out;
      }
      case 'for': {
        const v = nm(s.name);
        return [
          `${ind}for (var ${v}: i32 = ${ex(s.from)}; ${v} < ${ex(s.to)}; ${v} += ${s.step}i) {`,
          ...block(s.body, ind + '  '),
          `${ind}}`,
        ];
      }
      case 'barrier': return [`${ind}workgroupBarrier();`];
      case 'matrixStore':
        return [`${ind}subgroupMatrixStore<${majorness(s.colMajor)}>(${pointer(s.space, s.dst)}, ${ex(s.offset)}, ${ex(s.value)}, ${ex(s.stride)});`];
      case 'return': return [`${ind}return;`];
    }
  };
  const block = (stmts: Stmt[], ind: string): string[] => stmts.flatMap((s) => stmt(s, ind));

  const body = block(kernel.body, '  ');
  const lines: string[] = [];
  lines.push(`// kernel '${kernel.name}'`);
  if (info.requires.has('f16')) lines.push('enable f16;');
  if (info.usesSubgroups) lines.push('enable subgroups;');
  if (info.usesMatrices) lines.push('enable chromium_experimental_subgroup_matrix;');
  if (info.usesSubgroups) lines.push('diagnostic(off, subgroup_uniformity);');
  if (info.usesMatrices) lines.push('diagnostic(off, chromium.subgroup_matrix_uniformity);');
  if (lines.length > 1) lines.push('');
  if (kernel.uniforms.length) {
    lines.push('struct Params {');
    for (const u of kernel.uniforms) lines.push(`  ${nm(u.name)}: ${u.type},`);
    lines.push('}', '');
  }
  kernel.buffers.forEach((b, i) => {
    const access = b.access === 'read' ? 'read' : 'read_write';
    lines.push(`@group(0) @binding(${i}) var<storage, ${access}> ${nm(b.name)}: array<${wgslType(b.type)}>;`);
  });
  if (kernel.uniforms.length) lines.push(`@group(1) @binding(0) var<uniform> params: Params;`);
  for (const a of kernel.shared) lines.push(`var<workgroup> ${nm(a.name)}: array<${wgslType(a.type)}, ${a.length}>;`);
  lines.push('');
  const [x, y, z] = kernel.workgroupSize;
  const params = (Object.keys(BUILTINS) as (keyof typeof BUILTINS)[]).filter((b) => usedBuiltins.has(b)).map((b) => BUILTINS[b].decl);
  lines.push(`@compute @workgroup_size(${x}, ${y}, ${z})`);
  if (params.length <= 1) lines.push(`fn main(${params.join('')}) {`);
  else lines.push('fn main(', ...params.map((p) => `  ${p},`), ') {');
  lines.push(...body, '}', '');
  return lines.join('\n');
}
