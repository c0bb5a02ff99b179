// The tape's walk: backward() sorts the graph once and walks it in reverse, applying each node's VJP
// rule and accumulating gradients. Ops record their nodes through record.ts, which loads no VJP rule and
// no op, so that the ops and the rules (which call ops) do not import each other through this file.
import type { Tensor } from '../tensor.js';
import { TENSOR_BRAND, keep, scopeSync } from '../memory.js';
import { describeValue } from './describe.js';
import { type OpAttrs, type TapeNode, noGrad } from './record.js';
import { vjpRules } from './vjp.js';
import { add, onesLike } from '../ops/api.js';

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

/** How messages name a node's op: a fused op by its own name. */
export function opLabel(node: TapeNode): string {
  return node.op === 'fused' ? `fused op '${(node.attrs as OpAttrs['fused']).def.name}'` : `'${node.op}'`;
}

const isTensor = (v: unknown): v is Tensor => typeof v === 'object' && v !== null && TENSOR_BRAND in v;

/**
 * Checks what a VJP rule (a fused op's backward included) returned: an array with one entry per input,
 * each null or an f32 tensor of that input's shape. Throws naming the op and the entry; disposes the
 * returned tensors first.
 */
function checkRuleResult(node: TapeNode, result: unknown): (Tensor | null)[] {
  const fail = (why: string): never => {
    if (Array.isArray(result)) for (const t of result) if (isTensor(t) && !node.inputs.includes(t)) t.dispose();
    throw new TypeError(`backward: the backward of ${opLabel(node)} ${why}`);
  };
  const n = node.inputs.length;
  if (!Array.isArray(result) || result.length !== n) {
    return fail(`returned ${describeValue(result)}; it must return an array with one gradient (a Tensor or null) per input (${n})`);
  }
  result.forEach((gi: unknown, i) => {
    if (gi === null || gi === undefined) return;
    const input = node.inputs[i]!;
    if (!isTensor(gi)) fail(`gave ${describeValue(gi)} for input ${i}; a gradient is a Tensor or null`);
    const t = gi as Tensor;
    if (t.dtype !== 'f32') fail(`gave an ${t.dtype} gradient ${t} for input ${i} (${input}); gradients are f32`);
    if (t.shape.join() !== input.shape.join()) {
      fail(`gave a gradient of shape [${t.shape}] for input ${i} of shape [${input.shape}]`);
    }
  });
  return result.map((gi: Tensor | null | undefined) => gi ?? null);
}

export interface BackwardOptions {
  /**
   * Keep the graph so that another backward can walk it again (adding its gradients once more). By
   * default a backward frees the graph it walked: its saved tensors are released and a second backward
   * through it is refused.
   */
  retainGraph?: boolean;
}

/**
 * Computes gradients of `root` (a one-element tensor, or any tensor with `gradient` given) with respect
 * to every leaf that requires one, adding them into `leaf.grad` (so gradients of separate graphs, such
 * as micro-batches, accumulate). Gradient buffers of interior tensors are released as soon as they are
 * used. Then the walked graph is freed (see BackwardOptions): walking it twice would double every
 * gradient, so that is refused unless the first backward passed `{ retainGraph: true }`. Options may
 * take the gradient's place: `backward(loss, { retainGraph: true })`.
 */
export function backward(root: Tensor, gradient?: Tensor | BackwardOptions | null, options: BackwardOptions = {}): void {
  const seed = isTensor(gradient) ? gradient : null;
  const opts = gradient && !isTensor(gradient) ? gradient : options;
  if (!root.requiresGrad) throw new Error(`backward: ${root} does not require grad (no input of its ops did)`);
  if (!seed && root.size !== 1) throw new Error(`backward: ${root} is not a scalar; pass the gradient of its elements`);
  if (seed && seed.shape.join() !== root.shape.join()) {
    throw new Error(`backward: gradient shape [${seed.shape}] differs from the output's [${root.shape}]`);
  }
  const order = topoSort(root);
  const freed = order.find((n) => n.freed);
  if (freed) {
    throw new Error(`backward: the graph of ${root} was freed by an earlier backward (it reached ${opLabel(freed)}, which made ${freed.output}); ` +
      'walking it again would add its gradients twice: pass { retainGraph: true } to the earlier backward to keep it');
  }
  const grads = new Map<Tensor, Tensor>();
  try {
    run();
  } finally {
    for (const g of grads.values()) g.dispose();
  }
  if (!opts.retainGraph) freeGraph(order, root);

  function run(): void {
    noGrad(() => {
      grads.set(root, seed ? seed.view(root.shape) : keep(onesLike(root)));
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
        const leafSeed = grads.get(root)!;
        grads.delete(root);
        accumulate(root, leafSeed);
      }
      for (const node of [...order].reverse()) {
        const g = grads.get(node.output);
        if (!g) continue;
        grads.delete(node.output);
        node.inputs.forEach((input, i) => {
          if (input.requiresGrad && input.disposed) {
            throw new Error(`backward: ${input}, input ${i} of ${opLabel(node)}, was disposed before backward (keep tensors that backward needs until it has run)`);
          }
        });
        const rule = vjpRules[node.op] as (g: Tensor, n: TapeNode) => unknown;
        const inputGrads = checkRuleResult(node, scopeSync(() => rule(g, node)));
        // A rule may pass its incoming gradient through, or return one tensor for two inputs: every owner
        // gets its own tensor (a view shares the buffer), made before any of them is accumulated.
        const handed = new Set<Tensor>([g]);
        const owned: [Tensor, Tensor][] = [];
        node.inputs.forEach((input, i) => {
          const gi = inputGrads[i];
          if (!gi || !input.requiresGrad) return;
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

/**
 * Marks the walked nodes freed and releases their saved tensors, except those that are tensors of the
 * graph itself (an input or output of a node; a caller that hands out a saved tensor hands out a view,
 * which keeps the buffer alive on its own).
 */
function freeGraph(order: TapeNode[], root: Tensor): void {
  const graphTensors = new Set<Tensor>([root]);
  for (const node of order) {
    graphTensors.add(node.output);
    for (const t of node.inputs) graphTensors.add(t);
  }
  for (const node of order) {
    node.freed = true;
    for (const t of node.saved) if (!graphTensors.has(t)) t.dispose();
    node.saved = [];
  }
}
