// Recording on the tape: an op calls record() on its output, which gets a node when gradients are
// enabled and some input requires one. Kept apart from the tape's walk (tape.ts), which loads the VJP
// rules and through them the ops: the ops import this file only.
import type { Tensor } from '../tensor.js';
import type { OpAttrsOf, OpName, TapeNodeOf } from './node.js';

/** The tape's node and op attributes over this framework's Tensor. */
export type TapeNode<K extends OpName = OpName> = TapeNodeOf<Tensor, K>;
export type OpAttrs = OpAttrsOf<Tensor>;

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn without recording anything on the tape. */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Records `output = op(inputs)` when gradients are enabled and some input requires one. */
export function record<K extends OpName>(op: K, inputs: Tensor[], output: Tensor, attrs: OpAttrs[K], saved: Tensor[] = []): Tensor {
  if (gradEnabled && inputs.some((t) => t.requiresGrad)) {
    output.requiresGrad = true;
    output.node = { op, inputs, output, saved, attrs } as TapeNode;
  }
  return output;
}

