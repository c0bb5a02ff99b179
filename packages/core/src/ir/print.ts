// A kernel's IR as readable pseudo-code (for `pnpm kernels` and error reports): its declarations, then
// its statements indented by block, expressions with the operators and builtins the builder spells.
import type { Expr, Kernel, Stmt } from './types.js';

const fnLike = new Set(['min', 'max', 'pow']);

export function printExpr(e: Expr): string {
  switch (e.k) {
    case 'const': return typeof e.value === 'boolean' ? String(e.value) : `${e.value}${e.type === 'f16' ? 'h' : e.type === 'f32' && Number.isInteger(e.value) ? '.0' : ''}`;
    case 'ref': return e.name;
    case 'uniform': return `uniform.${e.name}`;
    case 'builtin': return `${e.name}.${'xyz'[e.axis]}`;
    case 'load': return `${e.buf}[${printExpr(e.index)}]`;
    case 'loadShared': return `shared.${e.arr}[${printExpr(e.index)}]`;
    case 'binary': return fnLike.has(e.op) ? `${e.op}(${printExpr(e.a)}, ${printExpr(e.b)})` : `(${printExpr(e.a)} ${e.op} ${printExpr(e.b)})`;
    case 'unary': return e.op === 'neg' ? `-${printExpr(e.a)}` : e.op === 'not' ? `!${printExpr(e.a)}` : `${e.op}(${printExpr(e.a)})`;
    case 'select': return `(${printExpr(e.cond)} ? ${printExpr(e.a)} : ${printExpr(e.b)})`;
    case 'cast': return `${e.to}(${printExpr(e.a)})`;
    case 'vec': return `${e.type}(${e.parts.map(printExpr).join(', ')})`;
    case 'component': return `${printExpr(e.a)}.${'xyzw'[e.index]}`;
    case 'subgroup': return `subgroup_${e.op}(${printExpr(e.a)}${e.lane ? `, ${printExpr(e.lane)}` : ''})`;
    case 'matrixFill': return `${e.type}(${printExpr(e.value)})`;
    case 'matrixLoad': return `matrix_load<${e.type}>(${matrixPlace(e.space, e.src, e.offset, e.stride, e.colMajor)})`;
    case 'matrixMultiplyAdd': return `matrix_multiply_add(${printExpr(e.a)}, ${printExpr(e.b)}, ${printExpr(e.acc)})`;
  }
}

const matrixPlace = (space: string, name: string, offset: Expr, stride: Expr, colMajor: boolean) =>
  `${space === 'workgroup' ? 'shared.' : ''}${name}, offset ${printExpr(offset)}, stride ${printExpr(stride)}${colMajor ? ', column-major' : ''}`;

function printStmts(stmts: Stmt[], indent: string, out: string[]): void {
  for (const s of stmts) {
    switch (s.k) {
      case 'let': out.push(`${indent}let ${s.name} = ${printExpr(s.value)};`); break;
      case 'var': out.push(`${indent}var ${s.name}: ${s.type} = ${printExpr(s.init)};`); break;
      case 'assign': out.push(`${indent}${s.name} = ${printExpr(s.value)};`); break;
      case 'store': out.push(`${indent}${s.buf}[${printExpr(s.index)}] = ${printExpr(s.value)};`); break;
      case 'storeShared': out.push(`${indent}shared.${s.arr}[${printExpr(s.index)}] = ${printExpr(s.value)};`); break;
      case 'barrier': out.push(`${indent}barrier();`); break;
      case 'matrixStore': out.push(`${indent}matrix_store(${matrixPlace(s.space, s.dst, s.offset, s.stride, s.colMajor)}, ${printExpr(s.value)});`); break;
      case 'return': out.push(`${indent}return;`); break;
      case 'for':
        out.push(`${indent}for (${s.name} = ${printExpr(s.from)}; ${s.name} < ${printExpr(s.to)}; ${s.name} += ${s.step}) {`);
        printStmts(s.body, `${indent}  `, out);
        out.push(`${indent}}`);
        break;
      case 'if':
        out.push(`${indent}if ${printExpr(s.cond)} {`);
        printStmts(s.then, `${indent}  `, out);
        if (s.else.length) {
          out.push(`${indent}} else {`);
          printStmts(s.else, `${indent}  `, out);
        }
        out.push(`${indent}}`);
        break;
    }
  }
}

/** The kernel's declarations and body as pseudo-code. */
export function printKernel(k: Kernel): string {
  const out = [`kernel ${k.name}  workgroup ${k.workgroupSize.join('x')}${k.map ? `  map: ${k.map.output}[${k.map.index}] for ${k.map.index} < uniform.${k.map.count}` : ''}`];
  for (const b of k.buffers) out.push(`  buffer ${b.name}: array<${b.type}>  ${b.access}`);
  for (const u of k.uniforms) out.push(`  uniform ${u.name}: ${u.type}`);
  for (const s of k.shared) out.push(`  shared ${s.name}: array<${s.type}, ${s.length}>`);
  out.push('{');
  printStmts(k.body, '  ', out);
  out.push('}');
  return out.join('\n');
}
