// Every IR construct a map kernel may use, each in its own small kernel and stored in variables before
// use (gpu.js infers the types of variables from their initialisers, so that is where its type tracer
// fails), on each gpu.js mode against the CPU reference interpreter (f32).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as C from '@cce/core';
import { type Ex, type KernelBuilder, defineMapKernel, f32, i32, lit } from '@cce/core';
import { type GpujsBackend, createGpujsBackend } from '@cce/backend-gpujs';
import { testModes } from './modes.js';

interface Inputs { b: KernelBuilder; i: Ex; x: Ex; y: Ex; a: Ex; c: Ex; u: Ex; n: Ex }
interface Probe { name: string; out: 'f32' | 'i32'; body: (p: Inputs) => Ex; tol?: number }

const boolToF = (p: Inputs, e: Ex) => p.b.let('bv', e).select(f32(1), f32(0));

const probes: Probe[] = [
  // comparisons stored as bool variables, then combined
  ...(['lt', 'le', 'gt', 'ge', 'eq', 'ne'] as const).flatMap((op): Probe[] => [
    { name: `f32 ${op} stored`, out: 'f32', body: (p) => { const t = p.b.let('t', p.x[op](p.y)); return t.and(t.or(p.x.lt(0))).select(f32(1), f32(2)); } },
    { name: `i32 ${op} stored`, out: 'i32', body: (p) => { const t = p.b.let('t', p.a[op](p.c)); return t.eq(p.a.gt(0)).select(i32(3), i32(4)); } },
  ]),
  { name: 'bool == and != of bools', out: 'f32', body: (p) => { const s = p.b.let('s', p.x.gt(0)); const t = p.b.let('t', p.a.ge(1)); return boolToF(p, s.eq(t)).add(boolToF(p, s.ne(t.not())).mul(2)); } },
  { name: 'bool var assigned in if/else', out: 'i32', body: (p) => { const v = p.b.var('v', lit(false, 'bool')); p.b.if(p.a.lt(p.n), () => v.set(p.x.le(p.y)), () => v.set(v.not())); return v.select(i32(7), i32(-7)); } },
  { name: 'select of bools, f32, i32', out: 'f32', body: (p) => { const s = p.b.let('s', p.x.gt(p.y).select(p.a.gt(0), p.c.lt(0))); return s.select(p.x, p.y).add(p.a.eq(p.c).select(p.a, p.c).toF32()); } },
  // casts
  { name: 'f32 -> i32 (truncation)', out: 'i32', body: (p) => { const t = p.b.let('t', p.x.mul(7.5).toI32()); return t.add(1); } },
  { name: 'i32 -> f32, bool -> f32 / i32', out: 'f32', body: (p) => p.b.let('t', p.a.toF32().mul(0.5)).add(p.x.gt(0).toF32()).add(p.a.lt(p.c).toI32().toF32().mul(10)) },
  { name: 'i32 / f32 -> bool', out: 'i32', body: (p) => { const t = p.b.let('t', p.a.cast('bool')); const s = p.b.let('s', p.x.cast('bool')); return t.and(s.not()).select(i32(1), i32(0)).add(t.or(s).select(i32(10), i32(0))); } },
  { name: 'i32 <-> u32', out: 'i32', body: (p) => { const t = p.b.let('t', p.a.abs().toU32()); return t.add(lit(3, 'u32')).toI32(); } },
  // integer arithmetic
  { name: 'i32 division and remainder of negatives, stored', out: 'i32', body: (p) => { const q = p.b.let('q', p.a.div(p.c)); const r = p.b.let('r', p.a.mod(p.c)); return q.mul(100).add(r); } },
  { name: 'bit operations, stored and reused', out: 'i32', body: (p) => { const t = p.b.let('t', p.a.bitAnd(6).bitOr(p.i.bitXor(3))); const s = p.b.let('s', p.i.shl(2).add(p.i.shr(1))); return t.mul(1000).add(s).add(t.gt(s).select(i32(1), i32(0))); } },
  { name: 'integer helpers called with bit-operation and loaded operands', out: 'i32', body: (p) => {
    const t = p.b.let('t', p.i.bitXor(5).div(p.c));
    const s = p.b.let('s', p.a.div(p.c.bitOr(1)));
    return t.mul(100).add(s).add(p.i.shl(1).mod(p.a.abs().add(1))).add(p.a.gt(0).select(p.i.bitAnd(3), p.c));
  } },
  { name: 'i32 neg, abs, min, max', out: 'i32', body: (p) => p.b.let('t', p.a.neg().abs()).mul(10).add(p.a.min(p.c)).add(p.a.max(p.n).mul(100)) },
  // f32 arithmetic and functions
  { name: 'f32 arithmetic and %', out: 'f32', body: (p) => p.b.let('t', p.x.mul(p.y).sub(p.x.div(p.y.abs().add(1))).add(p.u)).add(p.x.mod(f32(0.75))) },
  { name: 'exp, log, sqrt, rsqrt', out: 'f32', tol: 1e-5, body: (p) => { const z = p.b.let('z', p.x.abs().add(0.5)); return z.exp().add(z.log()).add(z.sqrt()).add(z.rsqrt()); } },
  { name: 'tanh, sin, cos, pow', out: 'f32', tol: 1e-5, body: (p) => { const z = p.b.let('z', p.x.mul(0.7)); return z.tanh().add(z.sin()).add(z.cos()).add(z.abs().add(0.25).pow(f32(1.7))); } },
  { name: 'neg, abs, floor, ceil, min, max', out: 'f32', body: (p) => p.x.neg().abs().add(p.x.mul(3.3).floor()).add(p.y.mul(2.2).ceil()).add(p.x.min(p.y)).add(p.x.max(p.u)) },
  // control flow
  { name: 'nested loops, step 3, bounds from uniforms and variables', out: 'f32', body: (p) => {
    const acc = p.b.var('acc', f32(0));
    const lim = p.b.let('lim', p.i.mod(4).add(1));
    p.b.for('k', 0, p.n, (k) => {
      p.b.for('m', k, lim.add(k), (m) => acc.set(acc.add(m.toF32().mul(p.x))), 3);
    });
    return acc;
  } },
  { name: 'nested if / else with early-computed values', out: 'f32', body: (p) => {
    const v = p.b.var('v', f32(0));
    p.b.if(p.x.gt(0), () => {
      p.b.if(p.a.ge(p.c), () => v.set(p.x), () => v.set(p.y));
    }, () => {
      const w = p.b.let('w', p.x.mul(p.y));
      p.b.if(w.ne(0), () => v.set(w.add(1)));
    });
    return v;
  } },
  { name: 'guarded gather of i32 ids', out: 'f32', body: (p) => {
    const v = p.b.var('v', f32(-1));
    p.b.if(p.a.ge(0).and(p.a.lt(p.n)), () => v.set(p.b.let('g', p.x).add(p.a.toF32())));
    return v;
  } },
];

const N = 23;
const xs = Float32Array.from({ length: N }, (_, k) => ((k * 37) % 19) / 4 - 2.3);
const ys = Float32Array.from({ length: N }, (_, k) => ((k * 11) % 13) / 3 - 1.9);
const as = Int32Array.from({ length: N }, (_, k) => ((k * 7) % 17) - 8);
const cs = Int32Array.from({ length: N }, (_, k) => ((k * 5) % 9) - 4 || 3);
// make some pairs equal so that ==, <=, >= are exercised both ways
for (let k = 0; k < N; k += 4) {
  ys[k] = xs[k]!;
  cs[k] = as[k]! || 1;
}

function kernel(p: Probe): C.Kernel {
  return defineMapKernel(`probe_${p.name.replace(/[^a-z0-9]+/gi, '_')}`, { outputType: p.out },
    (b) => ({ x: b.input('x', 'f32'), y: b.input('y', 'f32'), a: b.input('a', 'i32'), c: b.input('c', 'i32'), u: b.uniform('u', 'f32'), n: b.uniform('n', 'i32') }),
    ({ b, index }, d) => p.body({ b, i: index, x: d.x.at(index), y: d.y.at(index), a: d.a.at(index), c: d.c.at(index), u: d.u, n: d.n }));
}

async function evaluate(be: C.Backend, k: C.Kernel, out: 'f32' | 'i32'): Promise<number[]> {
  const bufs = { x: be.allocate(N, 'f32'), y: be.allocate(N, 'f32'), a: be.allocate(N, 'i32'), c: be.allocate(N, 'i32'), out: be.allocate(N, out) };
  try {
    be.write(bufs.x, xs);
    be.write(bufs.y, ys);
    be.write(bufs.a, as);
    be.write(bufs.c, cs);
    be.dispatch(be.compile(k), { buffers: bufs, uniforms: { u: 0.3, n: 5, count: N } }, [1, 1, 1]);
    return Array.from(await be.read(bufs.out));
  } finally {
    for (const b of Object.values(bufs)) be.free(b);
  }
}

const s = suite('gpujs: IR constructs on each mode');
const ref = new C.CpuBackend({ precision: 'f32' });
const backends = new Map<string, GpujsBackend>();
s.after(() => {
  for (const b of backends.values()) b.destroy();
});

for (const mode of await testModes()) {
  s(`${mode}: ${probes.length} construct kernels match the reference`, async () => {
    let be = backends.get(mode);
    if (!be) {
      be = await createGpujsBackend(mode);
      backends.set(mode, be);
    }
    for (const p of probes) {
      const k = kernel(p);
      const want = await evaluate(ref, k, p.out);
      const got = await evaluate(be, k, p.out);
      const tol = p.tol ?? 1e-6;
      for (let j = 0; j < N; j++) {
        const w = want[j]!;
        assert.ok(Math.abs(got[j]! - w) <= tol * Math.max(1, Math.abs(w)), `${p.name} on gpujs:${mode}: element ${j} is ${got[j]}, the reference gives ${w}`);
      }
    }
  });
}

s.run();
