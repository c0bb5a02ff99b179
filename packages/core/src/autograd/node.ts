// Tape nodes and the list of differentiable ops. Every op that records itself names one of these; the
// VJP table (vjp.ts) must have a rule for each, which the type checker enforces. A fused op's node
// holds its definition (the interfaces below; fused.ts runs them). The types are generic in the tensor
// type T, so that this file need not import the Tensor class, whose `node` field is one of them:
// record.ts and fused.ts name them over Tensor (TapeNode, OpAttrs, FusedOpDefinition).
import type { DType } from '../backend.js';
import type { CompareOp } from '../ops/elementwise-specs.js';

type None = Record<string, never>;

export interface OpAttrsOf<T> {
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
  fused: { def: FusedOpDefinitionOf<unknown, T>; attrs: unknown };
}

export type OpName = keyof OpAttrsOf<unknown>;

export interface TapeNodeOf<T, K extends OpName = OpName> {
  op: K;
  inputs: T[];
  output: T;
  /** Extra tensors the backward needs beyond inputs and output (e.g. layerNorm's mean and rstd). */
  saved: T[];
  attrs: OpAttrsOf<T>[K];
  /**
   * Set when a backward walked this node without retainGraph: its saved tensors are released, and a
   * later backward through it is refused (it would add every gradient a second time).
   */
  freed?: boolean;
}

export interface FusedBackwardContextOf<A, T> {
  inputs: T[];
  output: T;
  saved: T[];
  attrs: A;
  /** Which inputs need a gradient (the rest may get null). */
  needsGrad: boolean[];
}

export interface FusedOpDefinitionOf<A, T> {
  name: string;
  /**
   * Computes the output (a new tensor: not one of the inputs) and tensors the backward needs from the
   * inputs; nothing inside is recorded. The saved tensors belong to the tape: the backward that walks
   * the node releases them (hand callers a view of one if they need it longer).
   */
  forward(inputs: T[], attrs: A): { output: T; saved?: T[] };
  /**
   * Gradients of the inputs, given the gradient of the output: one entry per input, each an f32 tensor of
   * that input's shape or null (the tape checks this and names the op in its errors).
   */
  backward(grad: T, ctx: FusedBackwardContextOf<A, T>): (T | null)[];
}
