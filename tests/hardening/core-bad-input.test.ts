// Core ops with bad or degenerate input on every backend: indices out of range (refused when host-known,
// NaN when device-computed), a second backward through a freed graph, zero-size tensors (PyTorch's
// values), fused ops that return the wrong things, gradients outliving their tensors, sizes past a
// backend's largest buffer, and the variant each backend chooses by default.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as C from '@cce/core';
import type { Backend, Tensor } from '@cce/core';
import { createGpujsBackend, probeMode } from '@cce/backend-gpujs';
import { TILE_MEDIUM, tiledFits } from '../../packages/core/src/ops/tuned/index.js';
import { requireBackend, webgpuAvailable } from '../webgpu/support.js';

const values = async (t: Tensor) => Array.from(await t.read());

/** got equals want elementwise, NaN equal to NaN, floats within 1e-5 (relative). */
function assertValues(got: number[], want: number[], what: string): void {
  const same = got.length === want.length && got.every((g, i) => {
    const w = want[i]!;
    return Number.isNaN(w) ? Number.isNaN(g) : Math.abs(g - w) <= 1e-5 * Math.max(1, Math.abs(w));
  });
  assert.ok(same, `${what}: got [${got}], expected [${want}]`);
}

/** An i32 tensor computed on the device (no host copy of its values, so no host check is possible). */
const deviceIds = (ids: number[], shape: number[], backend: Backend) =>
  C.cast(C.tensor(ids, shape, { backend }), 'i32');

/** log Σ exp(row) - row[t], in float64. */
const hostCe = (row: number[], t: number) => Math.log(row.reduce((s, v) => s + Math.exp(v), 0)) - row[t]!;

/** `tiles`: whether the backend's default matmul should be a tiled one (workgroup memory pays there). */
function coreBadInputSuite(name: string, makeBackend: () => Promise<Backend>, tiles: boolean) {
  const s = suite(name);
  let backend: Backend;
  s.before(async () => {
    backend = await makeBackend();
  });
  s.before.each(() => C.setBackend(backend));
  const scoped = <T>(fn: () => T | Promise<T>) => C.scope(fn);
  const logits = [1, 2, 3, 0.5, -1, 2];

  // ---- 1. indices out of range ----

  s('crossEntropy: a host-known target outside [0, V) is refused with its position, value, range and ignoreIndex', () => scoped(() => {
    const x = C.tensor(logits, [2, 3], { backend });
    assert.throws(() => C.crossEntropy(x, C.tensor([0, 7], [2], { dtype: 'i32', backend })),
      /crossEntropy: target 7 at position 1 of \[2\] is outside \[0, 3\) \(the classes of logits\) and is not ignoreIndex \(-100\)/);
    assert.throws(() => C.crossEntropy(x, C.tensor([-1, 0], [2], { dtype: 'i32', backend }), { ignoreIndex: 5 }),
      /crossEntropy: target -1 at position 0 of \[2\] is outside \[0, 3\) .* not ignoreIndex \(5\)/);
  }));

  s('crossEntropy: a device-computed target outside [0, V) gives its token a NaN loss; ignored tokens give 0', () => scoped(async () => {
    const x = C.tensor(logits, [2, 3], { backend });
    const none = C.crossEntropy(x, deviceIds([0, 7], [2], backend), { reduction: 'none' });
    assertValues(await values(none), [hostCe([1, 2, 3], 0), NaN], 'per token, target 7');
    const negative = C.crossEntropy(x, deviceIds([-7, 2], [2], backend), { reduction: 'none' });
    assertValues(await values(negative), [NaN, hostCe([0.5, -1, 2], 2)], 'per token, target -7');
    assert.ok(Number.isNaN(await C.crossEntropy(x, deviceIds([0, 7], [2], backend)).item()), 'the mean is NaN');
    const ignored = C.crossEntropy(x, deviceIds([-100, 1], [2], backend), { reduction: 'none' });
    assertValues(await values(ignored), [0, hostCe([0.5, -1, 2], 1)], 'an ignored token');
    // An ignoreIndex inside the vocabulary or past it.
    const past = C.crossEntropy(x, C.tensor([3, 1], [2], { dtype: 'i32', backend }), { reduction: 'none', ignoreIndex: 3 });
    assertValues(await values(past), [0, hostCe([0.5, -1, 2], 1)], 'ignoreIndex 3 = V');
  }));

  s('gather: host-known ids 99 and -1 are refused; device-computed ones give rows of NaN', () => scoped(async () => {
    const table = C.tensor(Array.from({ length: 40 }, (_, i) => i), [10, 4], { backend });
    assert.throws(() => C.gather(table, C.tensor([1, 99], [2], { dtype: 'i32', backend })),
      /gather: id 99 at position 1 of \[2\] is outside \[0, 10\) \(the table's rows\)/);
    assert.throws(() => C.gather(table, C.tensor([[1, 2], [-1, 0]].flat(), [2, 2], { dtype: 'i32', backend })),
      /gather: id -1 at position \[1, 0\] of \[2, 2\] is outside \[0, 10\)/);
    const rows = C.gather(table, deviceIds([1, 99, -1], [3], backend));
    assertValues(await values(rows), [4, 5, 6, 7, NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN], 'gathered rows');
    const ints = C.tensor(Int32Array.from({ length: 8 }, (_, i) => i), [4, 2], { backend });
    assert.throws(() => C.gather(ints, deviceIds([0], [1], backend)), /gather: an i32 table \[4, 2\] needs host-known ids/);
    assertValues(await values(C.gather(ints, C.tensor([3], [1], { dtype: 'i32', backend }))), [6, 7], 'an i32 table, host ids');
  }));

  s('gather gradient and scatterAdd: an id outside the rows is refused (host) or makes every element NaN (device)', () => scoped(async () => {
    const src = C.ones([2, 3], { backend });
    assert.throws(() => C.scatterAdd(src, C.tensor([0, 4], [2], { dtype: 'i32', backend }), 4),
      /scatterAdd: id 4 at position 1 of \[2\] is outside \[0, 4\) \(the output rows\)/);
    assertValues(await values(C.scatterAdd(src, deviceIds([0, 4], [2], backend), 2)), [NaN, NaN, NaN, NaN, NaN, NaN], 'scatterAdd');
    assertValues(await values(C.scatterAdd(src, deviceIds([1, 1], [2], backend), 2)), [0, 0, 0, 2, 2, 2], 'scatterAdd in range');
    const table = C.randn([3, 2], { seed: 1, backend });
    table.requiresGrad = true;
    C.backward(C.sum(C.gather(table, deviceIds([2, 0], [2], backend))));
    assertValues(await values(table.grad!), [1, 1, 0, 0, 1, 1], 'the gradient of gather');
  }));

  s('pick: a host-known id 5 of 3 columns is refused; a device-computed one gives NaN; negative ids pick nothing', () => scoped(async () => {
    const x = C.tensor(logits, [2, 3], { backend });
    assert.throws(() => C.pick(x, C.tensor([0, 5], [2], { dtype: 'i32', backend })),
      /pick: id 5 at position 1 of \[2\] is outside \[0, 3\) \(the last axis of x\) and is not negative \(negative ids pick nothing\)/);
    assert.throws(() => C.pick(x, C.tensor([-1, 0], [2], { dtype: 'i32', backend }), { ignoreIndex: -100 }),
      /pick: id -1 at position 0 of \[2\] is outside \[0, 3\) \(the last axis of x\) and is not ignoreIndex \(-100\)/);
    assertValues(await values(C.pick(x, deviceIds([0, 5], [2], backend))), [1, NaN], 'device id 5');
    assertValues(await values(C.pick(x, deviceIds([-1, 2], [2], backend))), [0, 2], 'device id -1');
    assertValues(await values(C.pick(x, deviceIds([-1, -100], [2], backend), { ignoreIndex: -100 })), [NaN, 0], 'with ignoreIndex');
    assertValues(await values(C.pick(x, C.tensor([-3, 1], [2], { dtype: 'i32', backend }))), [0, -1], 'host id -3');
    // The gradient (oneHot) follows the same rule: a NaN row for the bad id, zeros for an ignored one.
    const y = C.tensor(logits, [2, 3], { backend });
    y.requiresGrad = true;
    C.backward(C.sum(C.pick(y, deviceIds([5, -1], [2], backend))));
    assertValues(await values(y.grad!), [NaN, NaN, NaN, 0, 0, 0], 'the gradient of pick');
    assert.throws(() => C.oneHot(C.ones([2], { backend }), C.tensor([0, 3], [2], { dtype: 'i32', backend }), 3), /oneHot: id 3 at position 1 of \[2\] is outside \[0, 3\)/);
  }));

  s('randint: an empty range or non-integer bounds are refused with the numbers', () => {
    assert.throws(() => C.randint([3], 5, 5, { backend }), /randint: the range \[low, high\) = \[5, 5\) is empty: high must exceed low/);
    assert.throws(() => C.randint([3], 5, 2, { backend }), /randint: the range \[low, high\) = \[5, 2\) is empty/);
    assert.throws(() => C.randint([3], 0.5, 3, { backend }), /randint: low and high must be integers within the i32 range, got low 0.5 and high 3/);
    assert.throws(() => C.randint([3], 0, 2 ** 32, { backend }), /got low 0 and high 4294967296/);
  });

  // ---- 2. backward through a freed graph ----

  s('a second backward through the same graph is refused before it adds anything; retainGraph keeps the graph', () => scoped(async () => {
    const x = C.tensor([1, 2, 3], [3], { backend });
    x.requiresGrad = true;
    const loss = C.sum(C.mul(x, x));
    C.backward(loss);
    assertValues(await values(x.grad!), [2, 4, 6], 'first backward');
    assert.throws(() => C.backward(loss), /backward: the graph of Tensor\(.*\) was freed by an earlier backward .*pass \{ retainGraph: true \} to the earlier backward/);
    assertValues(await values(x.grad!), [2, 4, 6], 'after the refused backward');
    // A graph built on a freed one cannot walk it either.
    assert.throws(() => C.backward(C.mulScalar(loss, 2)), /was freed by an earlier backward/);
    const y = C.tensor([1, 2, 3], [3], { backend });
    y.requiresGrad = true;
    const kept = C.sum(C.mul(y, y));
    C.backward(kept, { retainGraph: true });
    C.backward(kept, null, { retainGraph: true });
    C.backward(kept);
    assertValues(await values(y.grad!), [6, 12, 18], 'three walks of a retained graph');
    assert.throws(() => C.backward(kept), /freed by an earlier backward/);
  }));

  s('gradients of separate graphs accumulate in .grad (micro-batches)', () => scoped(async () => {
    const w = C.tensor([0.5, -1], [2, 1], { backend });
    w.requiresGrad = true;
    const batches = [[1, 2, 3, 4], [-1, 0.5, 2, 1]];
    for (const b of batches) C.backward(C.sum(C.matmul(C.tensor(b, [2, 2], { backend }), w)));
    // d/dw of sum(X w) is the column sums of X, summed over both batches.
    assertValues(await values(w.grad!), [1 + 3 - 1 + 2, 2 + 4 + 0.5 + 1], 'accumulated gradient');
  }));

  s('freeing a graph releases its saved tensors; a saved tensor handed out as a view survives', () => scoped(async () => {
    const live = () => backend.memory().liveBuffers;
    const walk = (retainGraph: boolean) => C.scope(async () => {
      const x = C.randn([3, 5], { seed: 3, backend });
      x.requiresGrad = true;
      const loss = C.sum(C.layerNorm(x));
      C.backward(loss, { retainGraph });
      return live();
    });
    assert.is(await walk(true) - await walk(false), 2, 'layerNorm keeps mean and rstd while its graph is retained');
    const withAux = C.defineFusedOp<null>({ name: 'withAux', forward: ([t]) => ({ output: C.mulScalar(t!, 2), saved: [C.mulScalar(t!, 3)] }), backward: (g) => [C.mulScalar(g, 2)] });
    const x = C.tensor([1, 2], [2], { backend });
    x.requiresGrad = true;
    const { output, saved } = C.applyFusedOp({ name: 'withAux', forward: ([t]) => ({ output: C.mulScalar(t!, 2), saved: [C.mulScalar(t!, 3)] }), backward: (g) => [C.mulScalar(g, 2)] }, [x], null);
    const aux = C.reshape(saved[0]!, [2]);
    C.backward(C.sum(output));
    assert.ok(saved[0]!.disposed, 'the saved tensor was released');
    assertValues(await values(aux), [3, 6], 'its view');
    assertValues(await values(C.sum(withAux([x], null))), [6], 'a fused op');
  }));

  // ---- 3. zero-size tensors ----

  s('reductions over nothing: sum 0, mean NaN, max refused; gradients of zero-size inputs are zero-size', () => scoped(async () => {
    assertValues(await values(C.sum(C.zeros([3, 0], { backend }), 1)), [0, 0, 0], 'sum over an empty axis');
    assertValues(await values(C.sum(C.zeros([0], { backend }))), [0], 'sum of nothing');
    assertValues(await values(C.sum(C.zeros([0, 4], { backend }), 0)), [0, 0, 0, 0], 'sum over an empty leading axis');
    assertValues(await values(C.mean(C.zeros([0], { backend }))), [NaN], 'mean of nothing');
    assertValues(await values(C.mean(C.zeros([2, 0], { backend }), 1)), [NaN, NaN], 'mean over an empty axis');
    assert.equal(C.sum(C.zeros([0, 3], { backend }), 1).shape, [0]);
    assert.throws(() => C.max(C.zeros([3, 0], { backend }), 1), /max: cannot reduce an empty axis of \[3,0\]/);
    const x = C.zeros([0, 3], { backend });
    x.requiresGrad = true;
    C.backward(C.add(C.mean(C.mul(x, x)), C.sum(C.softmax(x))));
    assert.equal(x.grad!.shape, [0, 3]);
  }));

  s('matmul with K = 0 gives zeros, with M = 0 an empty product; gradients keep the operands\' shapes', () => scoped(async () => {
    const a = C.zeros([2, 0], { backend });
    const b = C.zeros([0, 3], { backend });
    a.requiresGrad = true;
    b.requiresGrad = true;
    const y = C.matmul(a, b);
    assertValues(await values(y), [0, 0, 0, 0, 0, 0], 'K = 0');
    C.backward(C.sum(y));
    assert.equal([a.grad!.shape, b.grad!.shape], [[2, 0], [0, 3]]);
    const e = C.zeros([0, 4], { backend });
    e.requiresGrad = true;
    const w = C.randn([4, 3], { seed: 2, backend });
    w.requiresGrad = true;
    C.backward(C.sum(C.matmul(e, w)));
    assert.equal(e.grad!.shape, [0, 4]);
    assertValues(await values(w.grad!), new Array(12).fill(0), 'M = 0: the gradient of w');
  }));

  s('shape ops at size 0: reshape, concat, gather with no ids or no columns; an ambiguous -1 is refused', () => scoped(async () => {
    assert.equal(C.reshape(C.zeros([0, 3], { backend }), [3, 0, 5]).shape, [3, 0, 5]);
    assert.equal(C.reshape(C.zeros([0, 3], { backend }), [-1, 3]).shape, [0, 3]);
    assert.throws(() => C.reshape(C.zeros([0, 3], { backend }), [0, -1]), /reshape: the -1 in \[0, -1\] is ambiguous for \[0, 3\] \(0 elements\)/);
    assertValues(await values(C.concat([C.zeros([0, 2], { backend }), C.ones([1, 2], { backend })], 0)), [1, 1], 'concat');
    assert.equal(C.gather(C.randn([5, 2], { backend }), C.tensor([], [0], { dtype: 'i32', backend })).shape, [0, 2]);
    const table = C.zeros([5, 0], { backend });
    table.requiresGrad = true;
    const rows = C.gather(table, C.tensor([1, 4], [2], { dtype: 'i32', backend }));
    C.backward(C.sum(rows));
    assert.equal([rows.shape, table.grad!.shape], [[2, 0], [5, 0]]);
  }));

  s('crossEntropy over no token or no valid token: mean NaN, sum 0, none empty; gradients zero', () => scoped(async () => {
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      const x = C.zeros([0, 3], { backend });
      x.requiresGrad = true;
      const loss = C.crossEntropy(x, C.tensor([], [0], { dtype: 'i32', backend }), { reduction });
      C.backward(loss, loss.size === 1 ? null : C.zerosLike(loss));
      assertValues(await values(loss), { mean: [NaN], sum: [0], none: [] }[reduction], `N = 0, ${reduction}`);
      assert.equal(x.grad!.shape, [0, 3]);
    }
    for (const [reduction, want] of [['mean', NaN], ['sum', 0]] as const) {
      const x = C.tensor(logits, [2, 3], { backend });
      x.requiresGrad = true;
      const loss = C.crossEntropy(x, C.tensor([-100, -100], [2], { dtype: 'i32', backend }), { reduction });
      C.backward(loss);
      assertValues(await values(loss), [want], `every target ignored, ${reduction}`);
      assertValues(await values(x.grad!), [0, 0, 0, 0, 0, 0], `every target ignored, ${reduction}: gradients`);
    }
  }));

  // ---- 4. fused ops that return the wrong things ----

  const square = (name: string, backwardFn: (g: Tensor, x: Tensor) => unknown, forwardFn?: (x: Tensor) => unknown) => C.defineFusedOp<null>({
    name,
    forward: ([x]) => (forwardFn ? forwardFn(x!) : { output: C.mul(x!, x!) }) as { output: Tensor },
    backward: (g, { inputs: [x] }) => backwardFn(g, x!) as Tensor[],
  });
  const gradOf = (op: (xs: Tensor[], a: null) => Tensor) => {
    const x = C.tensor([1, 2, 3], [3], { backend });
    x.requiresGrad = true;
    C.backward(C.sum(op([x], null)));
    return x;
  };

  s('fused op: a backward that gives an i32 gradient, a number, or a wrong shape is refused naming the op', () => scoped(() => {
    assert.throws(() => gradOf(square('sqI32', (g) => [C.cast(g, 'i32')])),
      /backward: the backward of fused op 'sqI32' gave an i32 gradient Tensor\(.*\) for input 0 \(.*\); gradients are f32/);
    assert.throws(() => gradOf(square('sqNumber', () => 3)),
      /backward: the backward of fused op 'sqNumber' returned the number 3; it must return an array with one gradient \(a Tensor or null\) per input \(1\)/);
    assert.throws(() => gradOf(square('sqEntry', () => [3])), /the backward of fused op 'sqEntry' gave the number 3 for input 0; a gradient is a Tensor or null/);
    assert.throws(() => gradOf(square('sqShape', (g) => [C.concat([g, g], 0)])),
      /the backward of fused op 'sqShape' gave a gradient of shape \[6\] for input 0 of shape \[3\]/);
    assert.throws(() => gradOf(square('sqMissing', () => [])), /the backward of fused op 'sqMissing' returned an array of 0; it must return an array with one gradient/);
  }));

  s('fused op: a forward that returns nothing, a non-tensor or its input is refused naming the op', () => scoped(() => {
    assert.throws(() => gradOf(square('fwdNothing', (g) => [g], () => undefined)),
      /fused op 'fwdNothing': forward must return \{ output: Tensor, saved\?: Tensor\[\] \}, got undefined/);
    assert.throws(() => gradOf(square('fwdBare', (g) => [g], (x) => C.mul(x, x))), /fused op 'fwdBare': forward must return \{ output: Tensor/);
    assert.throws(() => gradOf(square('fwdSaved', (g) => [g], (x) => ({ output: C.mul(x, x), saved: [1] }))), /fused op 'fwdSaved': forward returned saved = an array of 1; saved must be an array of tensors/);
    assert.throws(() => gradOf(square('fwdSame', (g) => [g], (x) => ({ output: x }))), /fused op 'fwdSame': forward returned its input Tensor\(.*\) as the output/);
    assert.throws(() => C.defineFusedOp({ name: 'noBackward', forward: () => ({ output: C.ones([1]) }) } as never), /fused op 'noBackward': backward must be a function, got undefined/);
  }));

  s('fused op: tape errors name the op (a disposed input, a second backward)', () => scoped(() => {
    const op = square('namedSquare', (g, x) => [C.mul(C.mulScalar(x, 2), g)]);
    const w = C.tensor([1, 2], [2], { backend });
    w.requiresGrad = true;
    const h = C.mulScalar(w, 1);
    const loss = C.sum(op([h], null));
    h.dispose();
    assert.throws(() => C.backward(loss), /backward: Tensor\(.*disposed\), input 0 of fused op 'namedSquare', was disposed before backward/);
    const again = C.sum(op([w], null));
    C.backward(again);
    assert.throws(() => C.backward(C.mulScalar(again, 1)), /it reached fused op 'namedSquare'/);
  }));

  // ---- 5. gradients outlive their tensors ----

  s('disposing a tensor disposes its gradient: a leaf made inside a scope leaves no buffer behind', () => scoped(async () => {
    const before = backend.memory().liveBuffers;
    for (let i = 0; i < 3; i++) {
      await C.scope(() => {
        const x = C.randn([4], { seed: i, backend });
        x.requiresGrad = true;
        C.backward(C.sum(C.mul(x, x)));
      });
    }
    assert.is(backend.memory().liveBuffers, before, 'live buffers after three scopes');
    const y = C.keep(C.ones([2], { backend }));
    y.requiresGrad = true;
    C.backward(C.sum(y));
    const g = y.grad!;
    y.dispose();
    assert.ok(g.disposed && y.grad === null, 'the gradient went with its tensor');
  }));

  // ---- 6. sizes past the largest buffer ----

  s('a tensor past the largest buffer is refused before anything is allocated, with the numbers', () => {
    const bytes = backend.memory().bytesInUse;
    const limit = backend.capabilities.limits.maxBufferSize;
    const n = Math.floor(limit / 4) + 1;
    assert.throws(() => C.zeros([n], { backend }),
      (e: Error) => e.message === `zeros: shape [${n}] (f32) has ${n} elements (${n * 4} bytes), more than the largest buffer of backend '${backend.name}' (${limit} bytes)`);
    assert.throws(() => C.zeros([2 ** 31], { backend }), /zeros: shape \[2147483648\] \(f32\) has 2147483648 elements \(8589934592 bytes\), more than the largest buffer/);
    assert.throws(() => C.zeros([2 ** 33], { backend }), /zeros: shape \[8589934592\] \(f32\) has 8589934592 elements \(34359738368 bytes\), more than the largest buffer/);
    assert.throws(() => C.randn([2 ** 31], { backend }), /randn: shape \[2147483648\] \(f32\) has 2147483648 elements/);
    assert.throws(() => C.randint([2 ** 16, 2 ** 16], 0, 3, { backend }), /randint: shape \[65536, 65536\] \(i32\) has 4294967296 elements/);
    assert.throws(() => C.full([n], 1, { dtype: 'i32', backend }), /full: shape \[\d+\] \(i32\) has \d+ elements/);
    if (backend instanceof C.CpuBackend) {
      assert.throws(() => backend.allocate(2 ** 33, 'f32'), /cpu: a buffer of 8589934592 f32 elements \(34359738368 bytes\) exceeds this backend's largest buffer \(2147483647 bytes\)/);
    }
    assert.is(backend.memory().bytesInUse, bytes);
  });

  // ---- 7. the default variant follows the backend's cost ----

  s('matmul and reduceRows choose map kernels where the backend prefers them, tuned ones elsewhere; forced variants still run', () => scoped(async () => {
    const compiled: string[] = [];
    const own = backend as unknown as Record<string, unknown>;
    const compile = backend.compile.bind(backend);
    own.compile = (k: C.Kernel) => { compiled.push(k.name); return compile(k); };
    try {
      const a = C.randn([40, 30], { seed: 4, backend });
      const b = C.randn([30, 36], { seed: 5, backend });
      const problem = (): C.MatmulProblem => ({ a, b, out: C.Tensor.empty([40, 36], 'f32', backend), M: 40, N: 36, K: 30, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 });
      const caps = backend.capabilities;
      const tunedFits = tiledFits(backend, TILE_MEDIUM);
      assert.is(!!caps.prefersMapKernels, !tiles && tunedFits, 'prefersMapKernels');
      const want = tiles && tunedFits ? 'matmul_tiled_64x64' : 'matmul_map';
      C.runVariant('matmul', backend, problem());
      assert.ok(compiled[0]!.startsWith(want), `${backend.name} chose ${compiled[0]}, expected ${want}`);
      if (caps.prefersMapKernels) {
        const rows = { kind: 'sum' as const, src: C.randn([4, 1000], { backend }), out: C.Tensor.empty([4], 'f32', backend), K: 1000, scale: 1 };
        assert.is(C.supportedVariants('reduceRows', backend, rows)[0], 'map');
        // The preference is the backend's capability, not its name: the same backend without it tiles.
        const gpuLike = Object.assign(Object.create(backend) as Backend, { capabilities: { ...caps, prefersMapKernels: false } });
        assert.is(C.supportedVariants('matmul', gpuLike, problem())[0], 'tiled-64x64');
        assert.is(C.supportedVariants('reduceRows', gpuLike, rows)[0], 'workgroup-subgroups');
      }
      if (tunedFits) {
        compiled.length = 0;
        const p = problem();
        await C.withVariant('matmul', 'tiled-64x64', () => C.runVariant('matmul', backend, p));
        assert.ok(compiled[0]!.startsWith('matmul_tiled_64x64'), `forced: ${compiled[0]}`);
        const plain = await C.withVariant('matmul', 'map', () => values(C.matmul(a, b)));
        assertValues(await values(p.out), plain, 'forced tiled against map');
      }
    } finally {
      delete own.compile;
    }
  }));

  return s;
}

coreBadInputSuite('core bad input: cpu', async () => new C.CpuBackend({ precision: 'f32' }), false).run();
if (await webgpuAvailable('core bad input')) coreBadInputSuite('core bad input: webgpu', requireBackend, true).run();
coreBadInputSuite('core bad input: gpujs:webasm', () => createGpujsBackend('webasm'), false).run();
// gpu.js 'webgpu' keeps buffers on the device (an empty one is bound through a stand-in handle there).
if ((await probeMode('webgpu')).available) coreBadInputSuite('core bad input: gpujs:webgpu', () => createGpujsBackend('webgpu'), false).run();
