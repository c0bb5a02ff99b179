// Batched matmul with transposes: A [..., M, K] (or [..., K, M] with transA) times B [..., K, N] (or
// [..., N, K] with transB). Batch dims broadcast; transposes and broadcast batches are strides, not copies.
import { record } from '../autograd/record.js';
import { Tensor } from '../tensor.js';
import { matmulMapKernel } from './kernels.js';
import { runMap } from './launch.js';
import { registerVariant, runVariant } from './variants.js';
import { broadcastShapes, fmt, requireSameBackend, sameShape, sizeOf } from './shape-utils.js';
import type { FloatType } from '../ir/types.js';
import { broadcastTo } from './shape-ops.js';
import { isGradEnabled, noGrad } from '../autograd/record.js';

/**
 * One matmul as variants see it: out [batch, M, N] (contiguous) = A' B' where A' is a [batch?, M, K]
 * (or its transpose stored [K, M] when transA) and likewise B'. A batch stride of 0 broadcasts.
 */
export interface MatmulProblem {
  a: Tensor;
  b: Tensor;
  out: Tensor;
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
  aBatchStride: number;
  bBatchStride: number;
}

/** The uniforms of the strided map kernel for a problem (element strides of A' and B'). */
export function matmulStrides(p: MatmulProblem) {
  return {
    M: p.M, N: p.N, K: p.K,
    a_bs: p.aBatchStride, a_rs: p.transA ? 1 : p.K, a_ks: p.transA ? p.M : 1,
    b_bs: p.bBatchStride, b_ks: p.transB ? 1 : p.N, b_cs: p.transB ? p.K : 1,
  };
}

registerVariant<MatmulProblem>('matmul', {
  name: 'map',
  priority: 0,
  supports: () => true,
  run: (_backend, p) => {
    runMap(matmulMapKernel(p.a.dtype as FloatType, p.out.dtype as FloatType), p.out, { a: p.a, b: p.b }, matmulStrides(p));
  },
});

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
  /**
   * The result's dtype (default: the inputs'). f16 inputs are summed in f32 either way (on tensor cores
   * where the backend has subgroup matrices) and rounded once to f16 unless the result is f32.
   */
  result?: FloatType;
}

export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const transA = opts.transA ?? false;
  const transB = opts.transB ?? false;
  const desc = () => `matmul: ${fmt(a.shape)}${transA ? 'ᵀ' : ''} x ${fmt(b.shape)}${transB ? 'ᵀ' : ''}`;
  if (a.rank < 2 || b.rank < 2) throw new Error(`${desc()}: both operands need rank >= 2`);
  if ((a.dtype !== 'f32' && a.dtype !== 'f16') || a.dtype !== b.dtype) {
    throw new Error(`${desc()}: needs two f32 or two f16 operands, got ${a.dtype} and ${b.dtype}`);
  }
  const result = opts.result ?? a.dtype;
  if (result !== 'f32' && result !== 'f16') throw new Error(`${desc()}: result must be 'f32' or 'f16', got ${String(result)}`);
  if (a.dtype === 'f32' && result === 'f16') throw new Error(`${desc()}: f32 operands give an f32 result (cast it to f16 after)`);
  if (result !== a.dtype && isGradEnabled() && (a.requiresGrad || b.requiresGrad)) {
    throw new Error(`${desc()}: a result of another dtype than the operands (${a.dtype} -> ${result}) has no gradient here; cast the operands instead`);
  }
  requireSameBackend('matmul', a, b);
  const [ar, ac] = [a.shape[a.rank - 2]!, a.shape[a.rank - 1]!];
  const [br, bc] = [b.shape[b.rank - 2]!, b.shape[b.rank - 1]!];
  const [M, K] = transA ? [ac, ar] : [ar, ac];
  const [K2, N] = transB ? [bc, br] : [br, bc];
  if (K !== K2) throw new Error(`${desc()}: inner dimensions differ (${K} vs ${K2})`);
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const batch = broadcastShapes('matmul (batch dims)', batchA, batchB);
  // A batch that broadcasts partially (neither full nor a single matrix) is expanded first.
  const operand = (t: Tensor, tb: readonly number[]) =>
    sameShape(tb, batch) || sizeOf(tb) === 1 ? t : noGrad(() => broadcastTo(t, [...batch, ...t.shape.slice(-2)]));
  const ea = operand(a, batchA);
  const eb = operand(b, batchB);
  const aBatch = sizeOf(ea.shape.slice(0, -2)) === 1 ? 0 : M * K;
  const bBatch = sizeOf(eb.shape.slice(0, -2)) === 1 ? 0 : K * N;
  const out = Tensor.empty([...batch, M, N], result, a.backend, 'matmul');
  if (out.size > 0) runVariant<MatmulProblem>('matmul', a.backend, { a: ea, b: eb, out, M, N, K, transA, transB, aBatchStride: aBatch, bBatchStride: bBatch });
  if (ea !== a) ea.dispose();
  if (eb !== b) eb.dispose();
  return record('matmul', [a, b], out, { transA, transB });
}
