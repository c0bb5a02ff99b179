// Subgroup matrices in the IR and their meaning on the CPU reference: the naive subgroup-matrix matmul
// of every configuration the reference offers (Dawn's on NVIDIA: 16x16x16, 16x8x16, 16x8x8, f16 inputs,
// f16 or f32 results) against a plain matmul at odd multiples of the tile, with several tiles and
// subgroups per workgroup and several subgroup sizes; loads and stores in both layouts and through
// workgroup memory; and the errors: ill-typed kernels, operations that are not subgroup-uniform or not
// reached by the whole subgroup, loads past the end, configurations and capabilities a backend lacks.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as C from '@cce/core';
import { defineKernel, f16, f32, i32, matrixType } from '@cce/core';
import { oracleF16 } from './f16-oracle.js';

const s = suite('subgroup matrices on the reference');

/** f16 values of modest size, so that f32 sums stay exact enough to compare tightly. */
const f16Data = (n: number, seed: number) => {
  const rng = C.mulberry32(seed);
  return Array.from({ length: n }, () => oracleF16((rng() * 2 - 1) * 2));
};

/**
 * c = a b as the reference defines it: per k slice of K, the slice's exact sum added to the accumulator
 * and rounded once to the result type; and the plain float64 product beside it.
 */
function expected(a: number[], b: number[], M: number, N: number, K: number, slice: number, result: C.FloatType) {
  const round = result === 'f16' ? oracleF16 : Math.fround;
  const sliced = new Array<number>(M * N);
  const plain = new Array<number>(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let acc = 0;
      let exact = 0;
      for (let k0 = 0; k0 < K; k0 += slice) {
        let sum = acc;
        for (let k = k0; k < k0 + slice; k++) sum += a[i * K + k]! * b[k * N + j]!;
        acc = round(sum);
      }
      for (let k = 0; k < K; k++) exact += a[i * K + k]! * b[k * N + j]!;
      sliced[i * N + j] = acc;
      plain[i * N + j] = exact;
    }
  }
  return { sliced, plain };
}

const configs = C.REFERENCE_MATRIX_CONFIGS;
const variants = [{ tilesM: 1, tilesN: 1, subgroups: 1 }, { tilesM: 2, tilesN: 1, subgroups: 2 }, { tilesM: 1, tilesN: 3, subgroups: 1 }];

for (const config of configs) {
  for (const v of variants) {
    s(`matmul ${C.formatMatrixConfig(config)}, ${v.tilesM}x${v.tilesN} tiles, ${v.subgroups} subgroup(s): the slice-rounded product, and the plain one`, async () => {
      const be = new C.CpuBackend({ subgroupSize: 8 });
      const block = C.subgroupMatmulBlock({ config, ...v, subgroupSize: 8 });
      const [M, N, K] = [block.rows * 3, block.cols * 5, config.K * 3];
      const a = f16Data(M * K, 1);
      const b = f16Data(K * N, 2);
      const c = C.subgroupMatrixMatmul(C.tensor(a, [M, K], { dtype: 'f16', backend: be }), C.tensor(b, [K, N], { dtype: 'f16', backend: be }), { config, ...v });
      assert.is(c.dtype, config.result);
      assert.equal(c.shape, [M, N]);
      const got = await c.read();
      const { sliced, plain } = expected(a, b, M, N, K, config.K, config.result);
      const tol = config.result === 'f16' ? 2 ** -8 : 2 ** -20;
      for (let i = 0; i < M * N; i++) {
        assert.ok(Object.is(got[i], sliced[i]), `element ${i}: ${got[i]}, the slice-rounded product gives ${sliced[i]}`);
        assert.ok(Math.abs(got[i]! - plain[i]!) <= tol * (1 + Math.abs(plain[i]!)) * 3, `element ${i}: ${got[i]} vs the plain ${plain[i]}`);
      }
    });
  }
}

s('the matmul means the same at subgroup sizes 4, 8 and 32, in both precisions', async () => {
  const config = configs.find((c) => c.M === 16 && c.N === 8 && c.K === 16 && c.result === 'f32')!;
  const [M, N, K] = [48, 40, 48];
  const a = f16Data(M * K, 3);
  const b = f16Data(K * N, 4);
  let first: Float32Array | Float64Array | Int32Array | null = null;
  for (const [subgroupSize, precision] of [[4, 'f32'], [8, 'f32'], [32, 'f32'], [32, 'f64']] as const) {
    const be = new C.CpuBackend({ subgroupSize, precision });
    const got = await C.subgroupMatrixMatmul(C.tensor(a, [M, K], { dtype: 'f16', backend: be }), C.tensor(b, [K, N], { dtype: 'f16', backend: be }), { config }).read();
    if (precision === 'f64') {
      const { plain } = expected(a, b, M, N, K, K, 'f32');
      got.forEach((g, i) => assert.ok(Math.abs(g - plain[i]!) < 1e-12, `f64: element ${i} ${g} vs ${plain[i]}`));
    } else if (first) assert.equal(Array.from(got), Array.from(first), `subgroup size ${subgroupSize}`);
    else first = got;
  }
});

s('K = 0 gives zeros; shapes that do not divide into blocks are refused with the numbers', async () => {
  const be = new C.CpuBackend({ subgroupSize: 8 });
  const config = configs[0]!;
  const z = C.subgroupMatrixMatmul(C.zeros([16, 0], { dtype: 'f16', backend: be }), C.zeros([0, 16], { dtype: 'f16', backend: be }), { config });
  assert.equal(Array.from(await z.read()), new Array(256).fill(0));
  const a = C.zeros([24, 16], { dtype: 'f16', backend: be });
  const b = C.zeros([16, 16], { dtype: 'f16', backend: be });
  assert.throws(() => C.subgroupMatrixMatmul(a, b, { config }), /subgroupMatrixMatmul: \[24, 16\] x \[16, 16\] does not divide into 16 x 16 blocks with k slices of 16 \(16x16x16 f16->f16\)/);
  assert.throws(() => C.subgroupMatrixMatmul(C.zeros([16, 16], { backend: be }), C.zeros([16, 16], { backend: be })), /offers no subgroup-matrix product of f32 inputs with f32 results/);
  const none = new C.CpuBackend({ subgroupMatrixConfigs: [] });
  assert.throws(() => C.subgroupMatrixMatmul(C.zeros([16, 16], { dtype: 'f16', backend: none }), C.zeros([16, 16], { dtype: 'f16', backend: none })),
    /subgroupMatrixMatmul: backend 'cpu' has no subgroup matrices/);
});

const left8 = matrixType('left', 'f16', 8, 8);
const right8 = matrixType('right', 'f16', 8, 8);
const result8 = matrixType('result', 'f32', 8, 8);

async function run(be: C.CpuBackend, k: C.Kernel, inputs: Record<string, { dtype: C.DType; data: number[] }>, out: { name: string; dtype: C.DType; length: number }, grid: C.Grid = [1, 1, 1]) {
  const buffers: Record<string, C.DeviceBuffer> = {};
  for (const [name, x] of Object.entries(inputs)) {
    buffers[name] = be.allocate(x.data.length, x.dtype);
    be.write(buffers[name]!, x.data);
  }
  buffers[out.name] = be.allocate(out.length, out.dtype);
  be.dispatch(be.compile(k), { buffers }, grid);
  return Array.from(await be.read(buffers[out.name]!));
}

s('loads and stores: row- and column-major, offsets, strides, workgroup memory, fill', async () => {
  const be = new C.CpuBackend({ subgroupSize: 4 });
  // out = transpose of the 8x8 block at offset 3 (stride 10) of x, through workgroup memory, plus a fill.
  const k = defineKernel('t_layouts', { workgroupSize: 4 }, (b) => {
    const x = b.input('x', 'f16');
    const out = b.output('out', 'f16');
    const tile = b.workgroupArray('tile', 'f16', 64);
    const m = b.let('m', b.matrixLoad(matrixType('result', 'f16', 8, 8), x, 3, 10, { colMajor: true }));
    b.matrixStore(tile, 0, m, 8);
    const again = b.let('again', b.matrixLoad(matrixType('result', 'f16', 8, 8), tile, 0, 8));
    b.matrixStore(out, 0, again, 8);
    b.matrixStore(out, 64, b.matrixFill(matrixType('left', 'f16', 8, 8), f16(1.5)), 8);
  });
  const x = Array.from({ length: 3 + 7 * 10 + 8 }, (_, i) => i);
  const got = await run(be, k, { x: { dtype: 'f16', data: x } }, { name: 'out', dtype: 'f16', length: 128 });
  for (let r = 0; r < 8; r++) for (let c = 0; c < 8; c++) assert.is(got[r * 8 + c], x[3 + c * 10 + r], `transposed (${r}, ${c})`);
  assert.equal(got.slice(64), new Array(64).fill(1.5));
});

s('ill-formed subgroup-matrix kernels are refused naming the problem', () => {
  const rejects = (build: (b: C.KernelBuilder) => void, pattern: RegExp) => {
    assert.throws(() => C.validateKernel(defineKernel('t_bad', { workgroupSize: 8 }, build)), pattern);
  };
  const io = (b: C.KernelBuilder) => ({ a: b.input('a', 'f16'), o: b.output('o', 'f32'), o16: b.output('o16', 'f16') });
  rejects((b) => {
    const { a, o } = io(b);
    const l = b.matrixLoad(left8, a, 0, 8);
    b.matrixStore(o, 0, b.matrixMultiplyAdd(l, l, b.matrixFill(result8, f32(0))), 8);
  }, /multiply-add takes left, right and result matrices, got left, left and result/);
  rejects((b) => {
    const { a, o } = io(b);
    const acc = b.matrixFill(matrixType('result', 'f32', 16, 8), f32(0));
    b.matrixStore(o, 0, b.matrixMultiplyAdd(b.matrixLoad(left8, a, 0, 8), b.matrixLoad(right8, a, 0, 8), acc), 16);
  }, /shapes do not chain: left 8x8, right 8x8, result 8x16/);
  rejects((b) => {
    const { o } = io(b);
    b.matrixStore(o, 0, b.matrixLoad(left8, b.input('w', 'f32'), 0, 8), 8);
  }, /a subgroup_matrix_left<f16, 8, 8> loads from an array of f16, not of f32 \('w'\)/);
  rejects((b) => {
    const { a } = io(b);
    b.matrixStore(a, 0, b.matrixLoad(left8, a, 0, 8), 8);
  }, /matrix store to read-only buffer 'a'/);
  rejects((b) => {
    const { a, o } = io(b);
    b.matrixStore(o, 0, b.matrixLoad(left8, a, 0, 4), 8);
  }, /stride 4 is below the columns \(8\) of a row-major matrix/);
  rejects((b) => {
    const { a, o } = io(b);
    const l = b.let('l', b.matrixLoad(left8, a, 0, 8));
    o.store(0, l.add(l));
  }, /a subgroup matrix \(subgroup_matrix_left<f16, 8, 8>\) is not an operand of 'binary'/);
  rejects((b) => {
    const { o } = io(b);
    b.matrixStore(o, 0, b.matrixFill(matrixType('result', 'f32', 8, 8), f16(1)), 8);
  }, /fill value of subgroup_matrix_result<f32, 8, 8> must be f32, got f16/);
  rejects((b) => {
    const { a, o } = io(b);
    b.matrixStore(o, 0, b.matrixMultiplyAdd(b.matrixLoad(matrixType('left', 'f32', 8, 8), b.input('w', 'f32'), 0, 8),
      b.matrixLoad(matrixType('right', 'f32', 8, 8), b.input('w2', 'f32'), 0, 8), b.matrixFill(matrixType('result', 'f16', 8, 8), f16(0))), 8);
    void a;
  }, /f32 matrices accumulate in f32, not f16/);
  const matmul = C.subgroupMatmulKernel({ config: configs[0]!, subgroupSize: 32 });
  const info = C.validateKernel(matmul);
  assert.ok(info.requires.has('subgroupMatrix') && info.requires.has('f16') && info.usesMatrices);
  assert.equal(info.matrixConfigs, [configs[0]]);
  const printed = C.printKernel(matmul);
  for (const part of ['matrix_load<subgroup_matrix_left<f16, 16, 16>>(a, offset ', 'matrix_multiply_add(ta, tb, acc)', 'matrix_store(c, offset ']) {
    assert.ok(printed.includes(part), `printKernel lacks '${part}':\n${printed}`);
  }
});

async function rejects(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  const outcome = await p.then(() => null, (e: Error) => e);
  assert.ok(outcome, `expected a rejection matching ${pattern}`);
  assert.match(outcome!.message, pattern);
}

s('the reference refuses operations that are not subgroup-uniform or not reached by the whole subgroup', async () => {
  const be = new C.CpuBackend({ subgroupSize: 4 });
  const data = { a: { dtype: 'f16' as const, data: new Array(256).fill(1) } };
  const out = { name: 'o', dtype: 'f16' as const, length: 256 };
  const nonUniform = defineKernel('t_nonuniform', { workgroupSize: 4 }, (b) => {
    const a = b.input('a', 'f16');
    const o = b.output('o', 'f16');
    b.matrixStore(o, 0, b.matrixLoad(matrixType('left', 'f16', 8, 8), a, b.subgroupInvocationId(), 8), 8);
  });
  await rejects(run(be, nonUniform, data, out), /kernel 't_nonuniform': subgroup matrix load: 'offset' differs between the subgroup's invocations: it must be subgroup-uniform/);
  const partial = defineKernel('t_partial', { workgroupSize: 4 }, (b) => {
    const a = b.input('a', 'f16');
    const o = b.output('o', 'f16');
    b.if(b.localIndex().lt(2), () => b.matrixStore(o, 0, b.matrixLoad(matrixType('left', 'f16', 8, 8), a, 0, 8), 8));
  });
  await rejects(run(be, partial, data, out), /subgroup matrix load: reached by 2 of the subgroup's 4 invocations/);
  const outside = defineKernel('t_outside', { workgroupSize: 4 }, (b) => {
    const a = b.input('a', 'f16');
    const o = b.output('o', 'f16');
    b.matrixStore(o, 0, b.matrixLoad(matrixType('left', 'f16', 8, 8), a, i32(200), 8), 8);
  });
  await rejects(run(be, outside, data, out), /a 8x8 matrix at offset 200 with stride 8 reaches element 263 of 'a' \(length 256\)/);
});

s('backends refuse kernels whose configuration, capability or workgroup size they lack, with the numbers', () => {
  const k = C.subgroupMatmulKernel({ config: configs[0]!, subgroupSize: 32 });
  assert.throws(() => new C.CpuBackend({ subgroupMatrixConfigs: [] }).compile(k),
    /cpu: kernel 'sgm_matmul_16x16x16_f16_f16_t1x1_s1_sg32' needs 'subgroupMatrix', which this backend lacks \(subgroup matrices: WebGPU feature chromium-experimental-subgroup-matrix\)/);
  const only8 = new C.CpuBackend({ subgroupMatrixConfigs: [{ M: 8, N: 8, K: 8, component: 'f16', result: 'f32' }] });
  assert.throws(() => only8.compile(k), /multiplies subgroup matrices 16x16x16 f16->f16 \(M x N x K\), which this backend does not offer \(it offers 8x8x8 f16->f32\)/);
  const small = C.subgroupMatmulKernel({ config: configs[0]!, subgroupSize: 16 });
  assert.throws(() => new C.CpuBackend({ subgroupSize: 32 }).compile(small), /uses subgroup matrices with a workgroup size of 16 along x, which must be a multiple of the largest subgroup size \(32\)/);
  assert.not.ok(C.kernelFits(only8, k));
});

s.run();
