// The lowering itself: generated source for the core kernels, the integer-division helpers, the tail and
// output-reading variants, and the map-kernel shape it requires. The generated JavaScript is also run
// directly (with `this.thread.x` bound), which checks its meaning without gpu.js.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as C from '@cce/core';
import { defineMapKernel, i32 } from '@cce/core';
import { LoweringError, lowerMapKernel, mapParts } from '@cce/backend-gpujs';

const s = suite('gpujs lowering');
const opts = { roundF32: false, exactDivision: true };
const lower = (k: C.Kernel, o: Partial<Parameters<typeof lowerMapKernel>[2]> = {}) => lowerMapKernel(k, C.validateKernel(k), { ...opts, ...o });

/** Runs generated source as plain JavaScript over `n` outputs. */
function runJs(source: string, n: number, args: unknown[]): number[] {
  const fn = new Function(`return (${source});`)() as (...a: unknown[]) => number;
  return Array.from({ length: n }, (_, x) => fn.call({ thread: { x, y: 0, z: 0 } }, ...args));
}

const divmod = (op: 'div' | 'mod') => defineMapKernel(`t_${op}`, { outputType: 'i32' },
  (b) => ({ a: b.input('a', 'i32'), d: b.input('d', 'i32') }),
  ({ index }, { a, d }) => a.at(index)[op](d.at(index)));

s('integer division and remainder truncate, and x / 0 = x, x % 0 = 0, as in the reference', async () => {
  const a = [7, -7, 7, -7, 5, 0, 16777215, -16777215, 9, -9];
  const d = [2, 2, -2, -2, 0, 3, 7, 3, 3, 0];
  const cpu = new C.CpuBackend({ precision: 'f32' });
  const ba = cpu.allocate(a.length, 'i32'), bd = cpu.allocate(a.length, 'i32'), out = cpu.allocate(a.length, 'i32');
  cpu.write(ba, a);
  cpu.write(bd, d);
  for (const op of ['div', 'mod'] as const) {
    cpu.dispatch(cpu.compile(divmod(op)), { buffers: { a: ba, d: bd, out }, uniforms: { count: a.length } }, [1, 1, 1]);
    const want = Array.from(await cpu.read(out));
    for (const exactDivision of [true, false]) {
      const l = lower(divmod(op), { exactDivision });
      assert.ok(l.source.includes(exactDivision ? 'return Math.trunc(a / b);' : 'let q = Math.floor(aa / bb);'), l.source);
      assert.equal(runJs(l.source, a.length, [a, d, a.length]), want, `${op}, exactDivision ${exactDivision}`);
    }
  }
});

s('the elementwise kernel lowers to a gpu.js function over this.thread.x, arguments in binding order', () => {
  // built like the core's broadcasting elementwise kernel, from the same exported helpers
  const k = defineMapKernel('t_add_r2', { outputType: 'f32' },
    (b) => [b.input('in0', 'f32'), b.input('in1', 'f32')],
    ({ b, index }, ins) => {
      const coords = C.coordinates(b, index, 2);
      const [a, c] = ins.map((buf, j) => buf.at(b.let(`o${j}`, C.stridedOffset(b, coords, `in${j}`, false))));
      return a!.add(c!);
    });
  const l = lower(k);
  assert.equal(l.params.map((p) => p.name), ['in0', 'in1', 'count', 'shape0', 'shape1', 'in0_st0', 'in0_st1', 'in1_st0', 'in1_st1']);
  assert.ok(l.source.startsWith('function (b_in0, b_in1, u_count, u_shape0, u_shape1, u_in0_st0, u_in0_st1, u_in1_st0, u_in1_st1) {'), l.source);
  assert.match(l.source, /const v_idx = Math\.floor\(this\.thread\.x\);/);
  assert.match(l.source, /return \(b_in0\[v_o0\] \+ b_in1\[v_o1\]\);\n}$/);
  assert.not.ok(l.readsOutput);
  // [2, 3] + [1, 3] broadcast: strides of in1 are 0 along the broadcast axis
  const got = runJs(l.source, 6, [[1, 2, 3, 4, 5, 6], [10, 20, 30], 6, 2, 3, 3, 1, 0, 1]);
  assert.equal(got, [11, 22, 33, 14, 25, 36]);
});

s('f32 results are rounded with Math.fround when asked (gpu.js cpu mode)', () => {
  const k = defineMapKernel('t_f', { outputType: 'f32' }, (b) => b.input('x', 'f32'), ({ index }, x) => x.at(index).mul(0.1).exp());
  const l = lower(k, { roundF32: true });
  assert.match(l.source, /return Math\.fround\(Math\.exp\(Math\.fround\(b_x\[v_idx\] \* 0\.10000000149011612\)\)\);/);
  const plain = lower(k);
  assert.match(plain.source, /return \(Math\.exp\(\(b_x\[v_idx\] \* 0\.10000000149011612\)\)\);/);
});

s('the tail variant returns the previous output past its limit and binds the output as an input', () => {
  const k = defineMapKernel('t_neg', { outputType: 'f32' }, (b) => b.input('x', 'f32'), ({ index }, x) => x.at(index).neg());
  const l = lower(k, { tailUniform: 'cce_n' });
  assert.ok(l.readsOutput);
  assert.equal(l.params.map((p) => `${p.kind}:${p.name}`), ['buffer:x', 'buffer:out', 'uniform:count', 'uniform:cce_n']);
  assert.match(l.source, /if \(v_idx >= u_cce_n\) \{ return b_out\[v_idx\]; \}/);
  assert.equal(runJs(l.source, 4, [[1, 2, 3, 4], [9, 9, 9, 9], 4, 2]), [-1, -2, 9, 9]);
  assert.throws(() => lower(k, { tailUniform: 'count' }), /a uniform is named 'count', which the lowering reserves/);
});

s('loops, vars, selects, casts and guarded gathers lower with their IR meaning', async () => {
  const k = defineMapKernel('t_misc', { outputType: 'f32' },
    (b) => ({ x: b.input('x', 'f32'), ids: b.input('ids', 'i32'), K: b.uniform('K', 'i32') }),
    ({ b, index }, { x, ids, K }) => {
      const id = b.let('id', ids.at(index));
      const v = b.var('v', C.f32(0));
      b.if(id.ge(0).and(id.lt(K)), () => v.set(x.at(id)), () => v.set(C.f32(-1)));
      const acc = b.var('acc', C.f32(0));
      b.for('k', 1, K, (kk) => acc.set(acc.add(kk.toF32())), 2);
      return id.eq(i32(2)).select(v.mul(100), v.add(acc)).add(x.at(index).mul(7.9).toI32().toF32());
    });
  const l = lower(k);
  assert.match(l.source, /for \(let v_k = 1; v_k < u_K; v_k = v_k \+ 2\) \{/);
  assert.match(l.source, /\} else \{/);
  const x = [0.5, 1, 2, 3];
  const ids = [2, -100, 3, 9];
  // acc = 1 + 3 (k = 1, 3 < K = 4)
  const want = [2 * 100 + 3, -1 + 4 + 7, 3 + 4 + 15, -1 + 4 + 23];
  assert.equal(runJs(l.source, 4, [x, ids, 4, 4]), want);
});

s('only map kernels of the exact shape lower, with a reason', () => {
  const k = defineMapKernel('t_id', { outputType: 'f32' }, (b) => b.input('x', 'f32'), ({ index }, x) => x.at(index));
  assert.ok(mapParts(k));
  const noMap: C.Kernel = { ...k, map: undefined };
  assert.throws(() => mapParts(noMap), (e: Error) => e instanceof LoweringError && /it is not a map kernel/.test(e.message));
  const withElse: C.Kernel = { ...k, body: [k.body[0]!, { ...(k.body[1] as Extract<C.Stmt, { k: 'if' }>), else: [{ k: 'return' }] }] };
  assert.throws(() => mapParts(withElse), /guarded by 'if \(idx < count\)' with no else branch/);
  const usesBuiltin = defineMapKernel('t_bi', { outputType: 'i32' }, () => null, ({ b }) => b.workgroupId(0));
  assert.throws(() => lower(usesBuiltin), /builtin 'workgroupId' used inside the body/);
});

s.run();
