// f16 on the CPU reference: core's rounding (f16Round, the encoding) against an independent oracle over
// every f16 value, every midpoint and the edge cases (zeros, subnormals, 65504, overflow to an infinity,
// NaN, ties to even); f16 tensors, casts and elementwise ops against float64 arithmetic on f16 inputs
// rounded once to f16, at 0, 1 and odd numbers of elements, in both precisions of the reference.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as C from '@cce/core';
import { F16_CASES, F16_VALUES, edgeValues, f16Inputs, oracleF16 } from './f16-oracle.js';

const s = suite('f16 reference');
const same = (a: number, b: number) => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));

function expectSame(what: string, got: ArrayLike<number>, want: ArrayLike<number>, inputs?: ArrayLike<number>[]): void {
  assert.is(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    if (!same(got[i]!, want[i]!)) {
      throw new Error(`${what}: element ${i} is ${got[i]}, expected ${want[i]}${inputs ? ` (inputs ${inputs.map((x) => x[i]).join(', ')})` : ''}`);
    }
  }
}

s('f16Round matches the oracle on edge cases, every midpoint and random doubles', () => {
  const xs = [...edgeValues()];
  for (let i = 1; i < F16_VALUES.length; i++) {
    const mid = (F16_VALUES[i - 1]! + F16_VALUES[i]!) / 2;
    xs.push(mid, -mid, mid * (1 + 2 ** -40), mid * (1 - 2 ** -40));
  }
  const rng = C.mulberry32(3);
  for (let i = 0; i < 20000; i++) xs.push((rng() * 2 - 1) * 2 ** (rng() * 46 - 28));
  expectSame('f16Round', xs.map(C.f16Round), xs.map(oracleF16), [xs]);
  assert.is(C.f16Round(65519.99), 65504);
  assert.is(C.f16Round(65520), Infinity);
  assert.is(C.f16Round(-70000), -Infinity);
  assert.is(C.f16Round(2 ** -25), 0, 'half the smallest subnormal ties to zero (even)');
  assert.is(C.f16Round(3 * 2 ** -25), 2 ** -23, 'one and a half subnormals tie to two (even)');
  assert.ok(Object.is(C.f16Round(-(2 ** -26)), -0), 'a negative underflow keeps its sign');
  assert.is(C.f16Round(1 + 2 ** -11), 1, '1 + half an ulp ties to 1 (even)');
  assert.is(C.f16Round(1 + 3 * 2 ** -11), 1 + 2 ** -9, '1 + 1.5 ulp ties to 1 + 2 ulp (even)');
  assert.ok(Number.isNaN(C.f16Round(NaN)));
});

s('every f16 encoding decodes to its value and encodes back', () => {
  for (let h = 0; h < 0x10000; h++) {
    const v = C.f16FromBits(h);
    const exp = (h >> 10) & 0x1f;
    const man = h & 0x3ff;
    if (exp === 0x1f && man) {
      assert.ok(Number.isNaN(v), `0x${h.toString(16)} is a NaN`);
      assert.is(C.f16Bits(v), 0x7e00);
      continue;
    }
    const want = exp === 0x1f ? Infinity : F16_VALUES[h & 0x7fff]!;
    assert.ok(Object.is(v, h & 0x8000 ? -want : want), `0x${h.toString(16)} decodes to ${v}`);
    assert.is(C.f16Bits(v), h, `${v} encodes to 0x${h.toString(16)}`);
  }
  const back = C.decodeF16(C.encodeF16([1.5, -0, 65504, 70000, 2 ** -24, NaN]));
  expectSame('decode(encode)', back, [1.5, -0, 65504, Infinity, 2 ** -24, NaN]);
});

for (const precision of ['f32', 'f64'] as const) {
  const be = new C.CpuBackend({ precision });
  s(`${precision} reference: f16 tensors hold rounded values; casts f32 <-> f16 and f16 -> i32`, async () => {
    const xs = edgeValues();
    const h = C.tensor(xs, [xs.length], { dtype: 'f16', backend: be });
    assert.is(h.dtype, 'f16');
    expectSame('tensor(f16)', await h.read(), xs.map(oracleF16), [xs]);
    const f = C.tensor(xs, [xs.length], { backend: be });
    const fx = await f.read();
    expectSame('cast f32 -> f16', await C.cast(f, 'f16').read(), Array.from(fx, oracleF16), [fx]);
    expectSame('cast f16 -> f32 (exact)', await C.cast(h, 'f32').read(), xs.map(oracleF16));
    const ints = await C.cast(h, 'i32').read();
    // WGSL saturates at the values both types hold: an infinite f16 gives ±65504.
    expectSame('cast f16 -> i32', ints, xs.map((x) => {
      const v = oracleF16(x);
      return Number.isNaN(v) ? 0 : Math.max(-65504, Math.min(65504, Math.trunc(v))) | 0;
    }));
    expectSame('full(f16)', await C.full([3], 70000, { dtype: 'f16', backend: be }).read(), [Infinity, Infinity, Infinity]);
    expectSame('zeros(f16)', await C.zeros([2], { dtype: 'f16', backend: be }).read(), [0, 0]);
    assert.is(h.buffer.bytes, xs.length * 2, 'f16 elements take two bytes');
  });

  for (const n of [0, 1, 37]) {
    s(`${precision} reference: f16 elementwise ops on ${n} elements against float64 rounded to f16`, async () => {
      const a = f16Inputs(n, 1);
      const b = f16Inputs(n, 2).map((x, i) => (i % 5 === 0 ? a[i]! : x));
      const ta = C.tensor(a, [n], { dtype: 'f16', backend: be });
      const tb = C.tensor(b, [n], { dtype: 'f16', backend: be });
      for (const c of F16_CASES) {
        const out = c.run(ta, tb);
        assert.is(out.dtype, 'f16', `${c.name} keeps f16`);
        expectSame(`${c.name} (f16, ${precision})`, await out.read(), a.map((x, i) => oracleF16(c.exact(x, b[i]!))), c.arity === 2 ? [a, b] : [a]);
      }
      expectSame('compare gt', await C.compare(ta, 'gt', tb).read(), a.map((x, i) => (x > b[i]! ? 1 : 0)));
      expectSame('where', await C.where(C.compare(ta, 'gt', tb), ta, tb).read(), a.map((x, i) => (x > b[i]! ? x : b[i]!)));
    });
  }
}

s('a broadcasting f16 op rounds as the contiguous one does', async () => {
  const be = new C.CpuBackend();
  const a = C.tensor([1, 2049, 65504, 0.1], [4, 1], { dtype: 'f16', backend: be });
  const b = C.tensor([1, 2 ** -11, 100], [1, 3], { dtype: 'f16', backend: be });
  const av = await a.read();
  const bv = await b.read();
  const want = Array.from({ length: 12 }, (_, i) => oracleF16(av[Math.floor(i / 3)]! + bv[i % 3]!));
  expectSame('add [4,1] + [1,3]', await C.add(a, b).read(), want);
});

s('f16 tensors past one binding go by windows on 256-byte offsets (128 elements)', async () => {
  const small = new C.CpuBackend({ maxStorageBufferBindingSize: 1000 }); // 250 elements of 4 bytes a window
  const whole = new C.CpuBackend();
  const xs = f16Inputs(1001, 9);
  const run = async (be: C.CpuBackend) => {
    const h = C.cast(C.tensor(xs, [xs.length], { backend: be }), 'f16');
    return Array.from(await C.add(h, C.mulScalar(h, 3)).read());
  };
  assert.equal(C.bindingWindows('t', small, 1001, 1, C.rangeAlignment('f16')).map((w) => w.offset), [0, 128, 256, 384, 512, 640, 768, 896]);
  expectSame('windowed f16 ops', await run(small), await run(whole));
});

s('shape ops move f16 values exactly: permute, slice, pad, concat, broadcastTo', async () => {
  const be = new C.CpuBackend();
  const xs = f16Inputs(2 * 3 * 5, 4);
  const x = C.tensor(xs, [2, 3, 5], { dtype: 'f16', backend: be });
  const ops: [string, C.Tensor][] = [
    ['permute', C.permute(x, [2, 0, 1])], ['slice', C.slice(x, [0, 1, 2], [2, 3, 5])], ['pad', C.pad(x, [1, 0, 0], [3, 3, 5])],
    ['concat', C.concat([x, x], 1)], ['broadcastTo', C.broadcastTo(C.slice(x, [0, 0, 0], [1, 3, 5]), [2, 3, 5])],
  ];
  for (const [name, f16Out] of ops) {
    assert.is(f16Out.dtype, 'f16', name);
    const f32Out = await ({ permute: () => C.permute(C.cast(x, 'f32'), [2, 0, 1]), slice: () => C.slice(C.cast(x, 'f32'), [0, 1, 2], [2, 3, 5]),
      pad: () => C.pad(C.cast(x, 'f32'), [1, 0, 0], [3, 3, 5]), concat: () => C.concat([C.cast(x, 'f32'), C.cast(x, 'f32')], 1),
      broadcastTo: () => C.broadcastTo(C.slice(C.cast(x, 'f32'), [0, 0, 0], [1, 3, 5]), [2, 3, 5]) } as Record<string, () => C.Tensor>)[name]!().read();
    expectSame(`${name} (f16)`, await f16Out.read(), f32Out);
  }
});

s('mixing f16 with f32, and ops without f16, are refused naming the op', async () => {
  const be = new C.CpuBackend();
  const a = C.tensor([1, 2], [2], { dtype: 'f16', backend: be });
  const b = C.tensor([1, 2], [2], { backend: be });
  assert.throws(() => C.add(a, b), /add: dtype mismatch, f16 \[2\] and f32 \[2\]/);
  const m = C.tensor([1, -2, 65504, 3], [2, 2], { dtype: 'f16', backend: be });
  assert.throws(() => C.sum(m), /sum: f16 input \[2,2\] is not summed in f16; cast it to f32 first/);
  assert.throws(() => C.mean(m, 1), /sum: f16 input/);
  assert.throws(() => C.matmul(m, C.cast(m, 'f32')), /matmul: \[2, 2\] x \[2, 2\]: needs two f32 or two f16 operands, got f16 and f32/);
  assert.throws(() => C.softmax(m, -1), /logsumexp: input must be f32, got f16 \[2, 2\]/);
  const mx = C.max(m, 1);
  assert.is(mx.dtype, 'f16');
  assert.equal(Array.from(await mx.read()), [1, 65504]);
});

s.run();
