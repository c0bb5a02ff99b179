// Hand-written kernels that exercise every IR construct, shared by the construct tests (WebGPU against
// the CPU reference) and the WGSL snapshot tests.
import { type Ex, type KernelBuilder, type Kernel, defineKernel, defineMapKernel, f32, i32, lit, u32, vec } from '@cce/core';

/** Integer semantics: wrap, division and remainder by zero, truncation, shifts, bits, casts. */
export const intOpsKernel: Kernel = defineKernel('ir_int_ops', { workgroupSize: 8 }, (b) => {
  const x = b.input('x', 'i32');
  const y = b.input('y', 'i32');
  const out = b.output('out', 'i32');
  const n = b.uniform('n', 'i32');
  const i = b.let('i', b.globalId());
  b.if(i.lt(n), () => {
    const a = b.let('a', x.at(i));
    const d = b.let('d', y.at(i));
    const results: Ex[] = [
      a.add(d), a.sub(d), a.mul(d), a.div(d), a.mod(d), a.min(d), a.max(d),
      a.bitAnd(d), a.bitOr(d), a.bitXor(d), a.shl(d), a.shr(d), a.neg(), a.abs(),
      a.toU32().div(d.toU32()).toI32(), a.toU32().mod(d.toU32()).toI32(), a.toU32().shr(d.toU32()).toI32(),
      a.lt(d).cast('i32'), a.ge(d).cast('i32'), a.eq(d).or(a.gt(0).and(d.lt(0))).select(i32(7), i32(-7)),
      a.toF32().mul(f32(1.5)).toI32(), a.cast('bool').cast('i32'),
      // Constant operands that WGSL would reject in a const-expression: folded or lowered lane by lane.
      a.div(0), a.mod(0), i32(2147483647).add(1).add(a), i32(-2147483648).div(-1), i32(1).shl(33), f32(1e10).toI32(),
    ];
    results.forEach((r, k) => out.store(i.mul(results.length).add(k), r));
  });
});
export const INT_OPS_RESULTS = 28;

/** Float functions and casts. */
export const floatOpsKernel: Kernel = defineMapKernel('ir_float_ops', { workgroupSize: 16, outputType: 'f32' },
  (b) => ({ x: b.input('x', 'f32'), big: b.uniform('big', 'f32') }),
  ({ b, index }, { x, big }) => {
    const k = b.let('k', index.mod(16));
    const v = b.let('v', x.at(index.div(16)));
    const pos = b.let('pos', v.abs().add(0.25));
    const r = b.var('r', f32(0));
    const cases: Ex[] = [
      v.exp(), pos.log(), pos.sqrt(), pos.rsqrt(), v.tanh(), v.mul(big).tanh(), v.abs(), v.floor(), v.ceil(),
      v.sin(), v.cos(), pos.pow(v), v.mod(0.75), v.div(pos).min(v).max(v.neg()), v.mul(big).toI32().toF32(), v.gt(0).not().select(v, f32(2)),
    ];
    cases.forEach((c, j) => b.if(k.eq(j), () => r.set(c)));
    return r;
  });

/** Vectors: vec4 buffers, vec2 of i32, components, lanewise ops, vector tanh and shifts. */
export const vectorKernel: Kernel = defineKernel('ir_vectors', { workgroupSize: 4 }, (b) => {
  const x = b.input('x', 'vec4<f32>');
  const q = b.input('q', 'vec2<i32>');
  const out = b.output('out', 'vec4<f32>');
  const outI = b.output('out_i', 'vec2<i32>');
  const n = b.uniform('n', 'i32');
  const i = b.let('i', b.globalId());
  b.if(i.lt(n), () => {
    const v = b.let('v', x.at(i));
    const w = b.let('w', vec('vec4<f32>', v.w, v.z, v.y, v.x));
    const acc = b.var('acc', v.mul(w).add(vec('vec4<f32>', 1, 2, 3, 4)));
    acc.set(acc.max(v.tanh()).sub(w.abs().min(vec('vec4<f32>', 0.5, 0.5, 0.5, 0.5))));
    out.store(i, acc);
    const p = b.let('p', q.at(i));
    outI.store(i, vec('vec2<i32>', p.y, p.x).shl(vec('vec2<i32>', 1, 33)).add(p.div(vec('vec2<i32>', 3, 0))));
  });
});

/** Workgroup memory and barriers in a 2-D workgroup, builtins on every axis, loops with steps, return. */
export const sharedKernel: Kernel = defineKernel('ir_shared_2d', { workgroupSize: [4, 2, 1] }, (b) => {
  const x = b.input('x', 'f32');
  const out = b.output('out', 'f32');
  const ids = b.output('ids', 'i32');
  const tile = b.workgroupArray('tile', 'f32', 8);
  const tile4 = b.workgroupArray('tile4', 'vec4<f32>', 2);
  const li = b.let('li', b.localIndex());
  const wg = b.let('wg', b.workgroupId(0).add(b.workgroupId(1).mul(b.numWorkgroups(0))).add(b.workgroupId(2).mul(b.numWorkgroups(0).mul(b.numWorkgroups(1)))));
  const g = b.let('g', wg.mul(8).add(li));
  tile.store(li, x.at(g));
  b.if(li.lt(2), () => tile4.store(li, vec('vec4<f32>', x.at(g), x.at(g).mul(2), f32(3), f32(4))));
  b.barrier();
  // Reverse within the workgroup, plus a strided sum over the tile.
  const s = b.var('s', f32(0));
  b.for('k', li.mod(2), 8, (k) => s.set(s.add(tile.at(k))), 2);
  const v4 = b.let('v4', tile4.at(li.mod(2)));
  out.store(g, tile.at(i32(7).sub(li)).add(s).add(v4.y));
  const gid = [b.globalId(0), b.globalId(1), b.globalId(2)];
  const lid = [b.localId(0), b.localId(1), b.localId(2)];
  b.if(li.eq(7), () => b.return());
  ids.store(g.mul(6), gid[0]!);
  ids.store(g.mul(6).add(1), gid[1]!);
  ids.store(g.mul(6).add(2), gid[2]!);
  ids.store(g.mul(6).add(3), lid[0]!);
  ids.store(g.mul(6).add(4), lid[1]!);
  ids.store(g.mul(6).add(5), lid[2]!.add(wg.mul(100)));
});

/** Subgroup operations (needs 'subgroups'): add, max, min, broadcast, shuffle, on scalars and a vec2. */
export const subgroupKernel: Kernel = defineKernel('ir_subgroups', { workgroupSize: 32 }, (b) => {
  const x = b.input('x', 'f32');
  const out = b.output('out', 'f32');
  const i = b.let('i', b.globalId());
  const v = b.let('v', x.at(i));
  const lane = b.let('lane', b.subgroupInvocationId());
  const size = b.let('size', b.subgroupSize());
  const pair = b.let('pair', b.subgroupAdd(vec('vec2<f32>', v, v.mul(v))));
  const r: Ex[] = [
    b.subgroupAdd(v), b.subgroupMax(v), b.subgroupMin(v), b.subgroupBroadcast(v, 1),
    b.subgroupShuffle(v, lane.bitXor(1)), pair.y, size.toF32(), b.subgroupAdd(lane).toF32(),
  ];
  r.forEach((e, k) => out.store(i.mul(r.length).add(k), e));
});
export const SUBGROUP_RESULTS = 8;

/** A map kernel with names that WGSL reserves or defines, to check that codegen renames them. */
export const reservedNamesKernel: Kernel = defineMapKernel('ir_reserved_names', { outputType: 'f32' },
  (b: KernelBuilder) => ({ max: b.input('max', 'f32'), select: b.uniform('select', 'f32') }),
  ({ b, index }, { max, select }) => {
    const loop = b.let('loop', max.at(index));
    const exp = b.var('exp', loop.mul(select));
    b.for('var', 0, 3, (v) => exp.set(exp.add(v.toF32())));
    return exp.max(lit(0.5, 'f32')).add(u32(3).toF32());
  });
