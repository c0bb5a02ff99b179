// Tape nodes and the list of differentiable ops. Every op that records itself names one of these; the
// VJP table (vjp.ts) must have a rule for each, which the type checker enforces.
import type { Tensor } from '../tensor.js';
import type { DType } from '../backend.js';
import type { CompareOp } from '../ops/elementwise-specs.js';
import type { FusedOpDefinition } from './fused.js';

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
