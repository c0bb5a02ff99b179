// Each op's forward on the reference backend against a plain-JS computation over ndarray host arrays.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import ndarray from 'ndarray';
import * as C from '@cce/core';
import { hostInput } from '@cce/core';
import { compareArrays } from '../support/conformance.js';

const s = suite('ops vs plain JS');
const cpu = new C.CpuBackend({ precision: 'f64' });
C.setBackend(cpu);
let seed = 1;
const randnArray = (shape: number[]) => hostInput({ shape }, C.mulberry32(seed++));
const idsArray = (shape: number[], high: number, ignore = 0) => hostInput({ shape, dtype: 'i32', low: 0, high, ignoreFraction: ignore }, C.mulberry32(seed++)) as Int32Array;
const nd = (data: ArrayLike<number>, shape: number[]) => ndarray(Array.from(data), shape);
const check = async (what: string, t: C.Tensor, want: number[], shape: number[]) => {
  assert.equal([...t.shape], shape, `${what}: shape`);
  compareArrays(what, await t.read(), want, 1e-12, 1e-12);
};

s('unary and binary elementwise with broadcasting', async () => {
  const a = randnArray([3, 5, 7]);
  const b = randnArray([5, 1]);
  const A = nd(a, [3, 5, 7]);
  const B = nd(b, [5, 1]);
  const want: Record<string, (x: number, y: number) => number> = {
    add: (x, y) => x + y, sub: (x, y) => x - y, mul: (x, y) => x * y, maximum: Math.max, minimum: Math.min,
  };
  for (const [op, f] of Object.entries(want)) {
    const out: number[] = [];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 5; j++) for (let k = 0; k < 7; k++) out.push(f(A.get(i, j, k), B.get(j, 0)));
    await check(op, (C as unknown as Record<string, (x: C.Tensor, y: C.Tensor) => C.Tensor>)[op]!(C.tensor(a, [3, 5, 7]), C.tensor(b, [5, 1])), out, [3, 5, 7]);
  }
  const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
  await check('gelu', C.gelu(C.tensor(a, [3, 5, 7])), Array.from(a, gelu), [3, 5, 7]);
  await check('sigmoid', C.sigmoid(C.tensor(a, [3, 5, 7])), Array.from(a, (x) => 1 / (1 + Math.exp(-x))), [3, 5, 7]);
  await check('relu', C.relu(C.tensor(a, [3, 5, 7])), Array.from(a, (x) => Math.max(x, 0)), [3, 5, 7]);
});

s('sum, max and mean over axes', async () => {
  const a = randnArray([3, 5, 7]);
  const A = nd(a, [3, 5, 7]);
  const sum02: number[] = [];
  for (let j = 0; j < 5; j++) {
    let acc = 0;
    for (let i = 0; i < 3; i++) for (let k = 0; k < 7; k++) acc += A.get(i, j, k);
    sum02.push(acc);
  }
  await check('sum axes 0,2', C.sum(C.tensor(a, [3, 5, 7]), [0, 2]), sum02, [5]);
  await check('sum axes 0,2 keepDims', C.sum(C.tensor(a, [3, 5, 7]), [0, 2], { keepDims: true }), sum02, [1, 5, 1]);
  const max1: number[] = [];
  for (let i = 0; i < 3; i++) for (let k = 0; k < 7; k++) {
    let m = -Infinity;
    for (let j = 0; j < 5; j++) m = Math.max(m, A.get(i, j, k));
    max1.push(m);
  }
  await check('max axis 1', C.max(C.tensor(a, [3, 5, 7]), 1), max1, [3, 7]);
  await check('mean all', C.mean(C.tensor(a, [3, 5, 7])), [Array.from(a).reduce((x, y) => x + y, 0) / 105], []);
});

s('batched matmul with transposes and broadcast batch', async () => {
  const a = randnArray([3, 7, 5]); // stored transposed: A' = a^T per batch, [5, 7]
  const b = randnArray([9, 7]); // B' = b^T, [7, 9], broadcast over the batch
  const A = nd(a, [3, 7, 5]);
  const B = nd(b, [9, 7]);
  const want: number[] = [];
  for (let t = 0; t < 3; t++) for (let i = 0; i < 5; i++) for (let j = 0; j < 9; j++) {
    let acc = 0;
    for (let k = 0; k < 7; k++) acc += A.get(t, k, i) * B.get(j, k);
    want.push(acc);
  }
  await check('matmul', C.matmul(C.tensor(a, [3, 7, 5]), C.tensor(b, [9, 7]), { transA: true, transB: true }), want, [3, 5, 9]);
});

s('permute, slice, concat, pad, broadcastTo', async () => {
  const a = randnArray([3, 5, 7]);
  const A = nd(a, [3, 5, 7]);
  const x = C.tensor(a, [3, 5, 7]);
  const perm: number[] = [];
  for (let k = 0; k < 7; k++) for (let i = 0; i < 3; i++) for (let j = 0; j < 5; j++) perm.push(A.get(i, j, k));
  await check('permute', C.permute(x, [2, 0, 1]), perm, [7, 3, 5]);
  const sl: number[] = [];
  for (let i = 1; i < 3; i++) for (let j = 2; j < 4; j++) for (let k = 0; k < 7; k++) sl.push(A.get(i, j, k));
  await check('slice', C.slice(x, [1, 2], [3, 4]), sl, [2, 2, 7]);
  const cat: number[] = [];
  for (let i = 0; i < 3; i++) for (let j = 0; j < 10; j++) for (let k = 0; k < 7; k++) cat.push(A.get(i, j % 5, k));
  await check('concat', C.concat([x, x], 1), cat, [3, 10, 7]);
  const small = randnArray([2, 3]);
  const padded: number[] = [];
  for (let i = 0; i < 4; i++) for (let j = 0; j < 5; j++) padded.push(i >= 1 && i < 3 && j >= 2 ? small[(i - 1) * 3 + (j - 2)]! : 0);
  await check('pad', C.pad(C.tensor(small, [2, 3]), [1, 2], [4, 5]), padded, [4, 5]);
  const col = randnArray([5, 1]);
  const bc: number[] = [];
  for (let i = 0; i < 2; i++) for (let j = 0; j < 5; j++) for (let k = 0; k < 3; k++) bc.push(col[j]!);
  await check('broadcastTo', C.broadcastTo(C.tensor(col, [5, 1]), [2, 5, 3]), bc, [2, 5, 3]);
});

s('gather, scatterAdd, pick, oneHot', async () => {
  const table = randnArray([11, 3]);
  const ids = idsArray([2, 5], 11);
  const want: number[] = [];
  for (const id of ids) for (let d = 0; d < 3; d++) want.push(table[id * 3 + d]!);
  await check('gather', C.gather(C.tensor(table, [11, 3]), C.tensor(ids, [2, 5])), want, [2, 5, 3]);
  const src = randnArray([10, 3]);
  const scat = new Array(33).fill(0);
  ids.forEach((id, n) => { for (let d = 0; d < 3; d++) scat[id * 3 + d] += src[n * 3 + d]!; });
  await check('scatterAdd', C.scatterAdd(C.tensor(src, [2, 5, 3]), C.tensor(ids, [2, 5]), 11), scat, [11, 3]);
  const x = randnArray([5, 7]);
  const cols = idsArray([5], 7);
  await check('pick', C.pick(C.tensor(x, [5, 7]), C.tensor(cols, [5])), Array.from(cols, (c, m) => x[m * 7 + c]!), [5]);
  const hot: number[] = [];
  for (let m = 0; m < 5; m++) for (let k = 0; k < 7; k++) hot.push(cols[m] === k ? x[m]! : 0);
  await check('oneHot', C.oneHot(C.tensor(x.slice(0, 5), [5]), C.tensor(cols, [5]), 7), hot, [5, 7]);
});

s('softmax, logSoftmax, logsumexp, layerNorm', async () => {
  const a = randnArray([5, 7]);
  const rows = Array.from({ length: 5 }, (_, m) => Array.from(a.slice(m * 7, m * 7 + 7)));
  const lse = rows.map((r) => Math.log(r.reduce((acc, v) => acc + Math.exp(v), 0)));
  await check('logsumexp', C.logsumexp(C.tensor(a, [5, 7])), lse, [5]);
  await check('softmax', C.softmax(C.tensor(a, [5, 7])), rows.flatMap((r, m) => r.map((v) => Math.exp(v - lse[m]!))), [5, 7]);
  await check('logSoftmax', C.logSoftmax(C.tensor(a, [5, 7])), rows.flatMap((r, m) => r.map((v) => v - lse[m]!)), [5, 7]);
  const w = randnArray([7]);
  const b = randnArray([7]);
  const ln = rows.flatMap((r) => {
    const mu = r.reduce((x, y) => x + y, 0) / 7;
    const v = r.reduce((x, y) => x + (y - mu) ** 2, 0) / 7;
    return r.map((x, k) => ((x - mu) / Math.sqrt(v + 1e-5)) * w[k]! + b[k]!);
  });
  await check('layerNorm', C.layerNorm(C.tensor(a, [5, 7]), C.tensor(w, [7]), C.tensor(b, [7])), ln, [5, 7]);
});

s('crossEntropy with ignored targets and each reduction', async () => {
  const a = randnArray([9, 7]);
  const t = idsArray([9], 7, 0.3);
  t[0] = -100;
  const per = Array.from({ length: 9 }, (_, m) => {
    if (t[m] === -100) return 0;
    const r = Array.from(a.slice(m * 7, m * 7 + 7));
    return Math.log(r.reduce((acc, v) => acc + Math.exp(v), 0)) - r[t[m]!]!;
  });
  const count = Array.from(t).filter((v) => v !== -100).length;
  const logits = C.tensor(a, [9, 7]);
  const targets = C.tensor(t, [9]);
  await check('ce none', C.crossEntropy(logits, targets, { reduction: 'none' }), per, [9]);
  await check('ce sum', C.crossEntropy(logits, targets, { reduction: 'sum' }), [per.reduce((x, y) => x + y, 0)], []);
  await check('ce mean', C.crossEntropy(logits, targets), [per.reduce((x, y) => x + y, 0) / count], []);
});

s('creation: full, arange, seeded randn is reproducible', async () => {
  assert.equal(await C.full([2, 3], 2.5).toArray(), [2.5, 2.5, 2.5, 2.5, 2.5, 2.5]);
  assert.equal(await C.arange(2, 11, 3).toArray(), [2, 5, 8]);
  assert.equal(await C.randn([5], { seed: 4 }).toArray(), await C.randn([5], { seed: 4 }).toArray());
  assert.not.equal(await C.randn([5], { seed: 4 }).toArray(), await C.randn([5], { seed: 5 }).toArray());
  const nda = await C.tensor([1, 2, 3, 4, 5, 6], [2, 3]).toNdarray();
  assert.is(nda.get(1, 2), 6);
});

s.run();
