// Custom fused ops: a forward (any kernels, run without recording) and a backward registered as one tape
// node. Cut Cross-Entropy is built this way, and users write their own the same way:
//
//   const scaledSquare = defineFusedOp<{ k: number }>({
//     name: 'scaledSquare',
//     forward: ([x], { k }) => ({ output: mapElementwise('sq', [x], 'f32', ([v], [s]) => v.mul(v).mul(s), [k]) }),
//     backward: (g, { inputs: [x], attrs: { k } }) => [mapElementwise('sq_b', [x, g], 'f32', ([v, gr], [s]) => v.mul(gr).mul(s), [2 * k])],
//   });
import type { Tensor } from '../tensor.js';
import type { FusedBackwardContextOf, FusedOpDefinitionOf } from './node.js';
import { describeValue } from './describe.js';
import { noGrad, record } from './record.js';
import { TENSOR_BRAND, scopeSync } from '../memory.js';
import { withOpName } from './op-context.js';

/** What a fused op is given and defines, over this framework's Tensor (see node.ts). */
export type FusedOpDefinition<A = unknown> = FusedOpDefinitionOf<A, Tensor>;
export type FusedBackwardContext<A> = FusedBackwardContextOf<A, Tensor>;

const isTensor = (v: unknown): v is Tensor => typeof v === 'object' && v !== null && TENSOR_BRAND in v;

function checkDefinition(def: FusedOpDefinition<never>): void {
  if (!def || typeof def.name !== 'string' || !def.name) throw new TypeError(`defineFusedOp: a fused op needs a name, got ${describeValue(def?.name)}`);
  for (const f of ['forward', 'backward'] as const) {
    if (typeof def[f] !== 'function') throw new TypeError(`fused op '${def.name}': ${f} must be a function, got ${describeValue(def[f])}`);
  }
}

/** Checks what a forward returned. */
function checkForward(def: FusedOpDefinition<never>, inputs: Tensor[], result: unknown): { output: Tensor; saved: Tensor[] } {
  const r = result as { output?: unknown; saved?: unknown } | null | undefined;
  // What the forward made is disposed by its scope when this throws.
  const fail = (why: string): never => {
    throw new TypeError(`fused op '${def.name}': forward ${why}`);
  };
  if (!r || typeof r !== 'object' || !isTensor(r.output)) {
    return fail(`must return { output: Tensor, saved?: Tensor[] }, got ${describeValue(r)}${r && typeof r === 'object' ? ` with output ${describeValue(r.output)}` : ''}`);
  }
  if (r.saved !== undefined && (!Array.isArray(r.saved) || !r.saved.every(isTensor))) {
    return fail(`returned saved = ${describeValue(r.saved)}; saved must be an array of tensors`);
  }
  const output = r.output as Tensor;
  if (output.disposed) return fail(`returned a disposed output ${output}`);
  if (inputs.includes(output)) return fail(`returned its input ${output} as the output; return a new tensor (a view, such as reshape, will do)`);
  return { output, saved: (r.saved as Tensor[] | undefined) ?? [] };
}

/**
 * Runs a fused op and records one tape node. The forward runs in its own scope, so its temporaries are
 * freed at once; the output and the saved tensors are returned (`recorded` tells whether the tape holds
 * them; if not, the caller disposes the saved ones it does not use).
 */
export function applyFusedOp<A>(def: FusedOpDefinition<A>, inputs: Tensor[], attrs: A): { output: Tensor; saved: Tensor[]; recorded: boolean } {
  checkDefinition(def as FusedOpDefinition<never>);
  if (!Array.isArray(inputs) || !inputs.every(isTensor)) throw new TypeError(`fused op '${def.name}': inputs must be an array of tensors, got ${describeValue(inputs)}`);
  const { output, saved } = noGrad(() => scopeSync(() => checkForward(def as FusedOpDefinition<never>, inputs, withOpName(def.name, () => def.forward(inputs, attrs)))));
  record('fused', inputs, output, { def: def as FusedOpDefinition, attrs }, saved);
  return { output, saved, recorded: output.node !== null };
}

/** Registers a fused op; the returned function runs it and records one tape node. */
export function defineFusedOp<A>(def: FusedOpDefinition<A>): (inputs: Tensor[], attrs: A) => Tensor {
  checkDefinition(def as FusedOpDefinition<never>);
  return (inputs, attrs) => {
    const { output, saved, recorded } = applyFusedOp(def, inputs, attrs);
    if (!recorded) for (const t of saved) if (t !== output) t.dispose();
    return output;
  };
}
