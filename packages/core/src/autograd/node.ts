// Tape nodes and the list of differentiable ops. Every op that records itself names one of these; the
// VJP table (vjp.ts) must have a rule for each, which the type checker enforces. A fused op's node
// holds its definition (the interfaces below; fused.ts runs them).
import type { Tensor } from '../tensor.js';
import type { DType } from '../backend.js';
import type { CompareOp } from '../ops/elementwise-specs.js';

type None = Record<string, never>;

export interface OpAttrs {
  neg: None; exp: None; log: None; sqrt: None; rsqrt: None; tanh: None; abs: None;
  relu: None; sigmoid: None; gelu: None;
  add: None; sub: None; mul: None; div: None; maximum: None; minimum: None;
  addScalar: { value: number };
  mulScalar: { value: number };
  compare: { op: CompareOp };
  compareScalar: { op: CompareOp; value: number };
  where: None;
  cast: { dtype: DType };
  sum: { axes: number[]; keepDims: boolean };
  max: { axes: number[]; keepDims: boolean };
  matmul: { transA: boolean; transB: boolean };
  reshape: None;
  permute: { perm: number[] };
  slice: { starts: number[]; ends: number[] };
  pad: { starts: number[]; shape: number[] };
  concat: { axis: number };
  broadcastTo: None;
  gather: None;
  scatterAdd: { rows: number };
  pick: { ignoreIndex: number | null };
  oneHot: { depth: number; ignoreIndex: number | null };
  logsumexp: None;
  layerNorm: { eps: number };
  fused: { def: FusedOpDefinition; attrs: unknown };
}

export type OpName = keyof OpAttrs;

export interface TapeNode<K extends OpName = OpName> {
  op: K;
  inputs: Tensor[];
  output: Tensor;
  /** Extra tensors the backward needs beyond inputs and output (e.g. layerNorm's mean and rstd). */
  saved: Tensor[];
  attrs: OpAttrs[K];
  /**
   * Set when a backward walked this node without retainGraph: its saved tensors are released, and a
   * later backward through it is refused (it would add every gradient a second time).
   */
  freed?: boolean;
}

export interface FusedBackwardContext<A> {
  inputs: Tensor[];
  output: Tensor;
  saved: Tensor[];
  attrs: A;
  /** Which inputs need a gradient (the rest may get null). */
  needsGrad: boolean[];
}

export interface FusedOpDefinition<A = unknown> {
  name: string;
  /**
   * Computes the output (a new tensor: not one of the inputs) and tensors the backward needs from the
   * inputs; nothing inside is recorded. The saved tensors belong to the tape: the backward that walks
   * the node releases them (hand callers a view of one if they need it longer).
   */
  forward(inputs: Tensor[], attrs: A): { output: Tensor; saved?: Tensor[] };
  /**
   * Gradients of the inputs, given the gradient of the output: one entry per input, each an f32 tensor of
   * that input's shape or null (the tape checks this and names the op in its errors).
   */
  backward(grad: Tensor, ctx: FusedBackwardContext<A>): (Tensor | null)[];
}
