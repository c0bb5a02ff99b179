// The tape: ops record a node on their output when any input requires a gradient; backward() sorts the
// graph once and walks it in reverse, applying each node's VJP rule and accumulating gradients.
import type { Tensor } from '../tensor.js';
import { keep, scopeSync } from '../memory.js';
import type { OpAttrs, OpName, TapeNode } from './node.js';
import { vjpRules } from './vjp.js';
import { add, onesLike } from '../ops/api.js';

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

function topoSort(root: Tensor): TapeNode[] {
  const order: TapeNode[] = [];
  const visited = new Set<TapeNode>();
  const stack: [TapeNode, number][] = root.node ? [[root.node, 0]] : [];
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const [node, i] = top;
    if (i === 0 && visited.has(node)) { stack.pop(); continue; }
    visited.add(node);
    if (i < node.inputs.length) {
      top[1]++;
      const child = node.inputs[i]!.node;
      if (child && !visited.has(child)) stack.push([child, 0]);
    } else {
      stack.pop();
      order.push(node);
    }
  }
  return order;
}

/**
 * Computes gradients of `root` (a one-element tensor, or any tensor with `gradient` given) with respect
 * to every leaf that requires one, adding them into `leaf.grad`. Gradient buffers of interior tensors are
 * released as soon as they are used.
 */
export function backward(root: Tensor, gradient?: Tensor): void {
  if (!root.requiresGrad) throw new Error(`backward: ${root} does not require grad (no input of its ops did)`);
  if (!gradient && root.size !== 1) throw new Error(`backward: ${root} is not a scalar; pass the gradient of its elements`);
  if (gradient && gradient.shape.join() !== root.shape.join()) {
    throw new Error(`backward: gradient shape [${gradient.shape}] differs from the output's [${root.shape}]`);
  }
  const grads = new Map<Tensor, Tensor>();
  try {
    run();
  } finally {
    for (const g of grads.values()) g.dispose();
  }

  function run(): void {
    noGrad(() => {
      grads.set(root, gradient ? gradient.view(root.shape) : keep(onesLike(root)));
      const accumulate = (t: Tensor, g: Tensor) => {
        if (!t.node) {
          if (t.grad) {
            const sum = keep(add(t.grad, g));
            t.grad.dispose();
            g.dispose();
            t.grad = sum;
          } else {
            t.grad = keep(g);
          }
          return;
        }
        const prev = grads.get(t);
        if (prev) {
          grads.set(t, keep(add(prev, g)));
          prev.dispose();
          g.dispose();
        } else {
          grads.set(t, keep(g));
        }
      };
      if (!root.node) {
        // A leaf: its gradient is the seed itself.
        const seed = grads.get(root)!;
        grads.delete(root);
        accumulate(root, seed);
      }
      for (const node of topoSort(root).reverse()) {
        const g = grads.get(node.output);
        if (!g) continue;
        grads.delete(node.output);
        const rule = vjpRules[node.op] as (g: Tensor, n: TapeNode) => (Tensor | null)[];
        const inputGrads = scopeSync(() => rule(g, node));
        // A rule may pass its incoming gradient through, or return one tensor for two inputs: every owner
        // gets its own tensor (a view shares the buffer), made before any of them is accumulated.
        const handed = new Set<Tensor>([g]);
        const owned: [Tensor, Tensor][] = [];
        node.inputs.forEach((input, i) => {
          const gi = inputGrads[i];
          if (!gi || !input.requiresGrad) return;
          if (input.disposed) {
            throw new Error(`backward: ${input}, input ${i} of '${node.op}', was disposed before backward (keep tensors that backward needs until it has run)`);
          }
          if (gi.shape.join() !== input.shape.join()) {
            throw new Error(`backward: the VJP of '${node.op}' gave a gradient of shape [${gi.shape}] for an input of shape [${input.shape}]`);
          }
          owned.push([input, handed.has(gi) ? gi.view(gi.shape) : gi]);
          handed.add(gi);
        });
        for (const gi of inputGrads) if (gi && !handed.has(gi)) gi.dispose();
        g.dispose();
        for (const [input, gi] of owned) accumulate(input, gi);
      }
    });
  }
}
