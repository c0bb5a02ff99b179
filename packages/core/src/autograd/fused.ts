// Custom fused ops: a forward (any kernels, run without recording) and a backward registered as one tape
// node. Cut Cross-Entropy is built this way, and users write their own the same way:
//
//   const scaledSquare = defineFusedOp<{ k: number }>({
//     name: 'scaledSquare',
//     forward: ([x], { k }) => ({ output: mapElementwise('sq', [x], 'f32', ([v], [s]) => v.mul(v).mul(s), [k]) }),
//     backward: (g, { inputs: [x], attrs: { k } }) => [mapElementwise('sq_b', [x, g], 'f32', ([v, gr], [s]) => v.mul(gr).mul(s), [2 * k])],
//   });
import type { Tensor } from '../tensor.js';
import { noGrad, record } from './tape.js';
import { scopeSync } from '../memory.js';

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
  /** Computes the output (and tensors the backward needs) from the inputs; nothing inside is recorded. */
  forward(inputs: Tensor[], attrs: A): { output: Tensor; saved?: Tensor[] };
  /** Gradients of the inputs, given the gradient of the output. */
  backward(grad: Tensor, ctx: FusedBackwardContext<A>): (Tensor | null)[];
}

/**
 * Runs a fused op and records one tape node. The forward runs in its own scope, so its temporaries are
 * freed at once; the output and the saved tensors are returned (`recorded` tells whether the tape holds
 * them; if not, the caller disposes the saved ones it does not use).
 */
export function applyFusedOp<A>(def: FusedOpDefinition<A>, inputs: Tensor[], attrs: A): { output: Tensor; saved: Tensor[]; recorded: boolean } {
  const { output, saved = [] } = noGrad(() => scopeSync(() => def.forward(inputs, attrs)));
  record('fused', inputs, output, { def: def as FusedOpDefinition, attrs }, saved);
  return { output, saved, recorded: output.node !== null };
}

/** Registers a fused op; the returned function runs it and records one tape node. */
export function defineFusedOp<A>(def: FusedOpDefinition<A>): (inputs: Tensor[], attrs: A) => Tensor {
  return (inputs, attrs) => {
    const { output, saved, recorded } = applyFusedOp(def, inputs, attrs);
    if (!recorded) for (const t of saved) if (t !== output) t.dispose();
    return output;
  };
}
