// Modules own parameters (leaf tensors that require grad, kept outside memory scopes).
import * as C from '@cce/core';
import type { Tensor } from '@cce/core';

export function parameter(t: Tensor, name?: string): Tensor {
  t.requiresGrad = true;
  if (name) t.name = name;
  return C.keep(t);
}

export abstract class Module {
  /** Every parameter of this module and its submodules, in a stable order. */
  parameters(): Tensor[] {
    const out: Tensor[] = [];
    const visit = (v: unknown) => {
      if (v instanceof C.Tensor) {
        if (v.requiresGrad && !v.node) out.push(v);
      } else if (v instanceof Module) {
        out.push(...v.parameters());
      } else if (Array.isArray(v)) {
        v.forEach(visit);
      }
    };
    for (const v of Object.values(this)) visit(v);
    return out;
  }

  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  dispose(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.dispose();
    }
  }
}

export interface LinearOptions {
  bias?: boolean;
  seed?: number;
  backend?: C.Backend;
}

/** y = x W + b with W [in, out], initialised N(0, 1/in). */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: LinearOptions = {}) {
    super();
    this.weight = parameter(C.randn([inFeatures, outFeatures], { std: 1 / Math.sqrt(inFeatures), seed: opts.seed, backend: opts.backend }), 'weight');
    this.bias = opts.bias === false ? null : parameter(C.zeros([outFeatures], { backend: opts.backend }), 'bias');
  }

  forward(x: Tensor): Tensor {
    if (x.shape[x.rank - 1] !== this.inFeatures) {
      throw new Error(`Linear(${this.inFeatures} -> ${this.outFeatures}): input has ${x.shape[x.rank - 1]} features, shape [${x.shape}]`);
    }
    const y = C.matmul(x, this.weight);
    return this.bias ? C.add(y, this.bias) : y;
  }
}

export type Activation = 'gelu' | 'relu' | 'tanh';

/** A multi-layer perceptron: Linear, activation, ..., Linear. */
export class MLP extends Module {
  readonly layers: Linear[];

  constructor(sizes: number[], readonly activation: Activation = 'gelu', opts: { seed?: number; backend?: C.Backend } = {}) {
    super();
    if (sizes.length < 2) throw new Error(`MLP needs at least an input and an output size, got [${sizes}]`);
    this.layers = sizes.slice(1).map((out, i) => new Linear(sizes[i]!, out, { seed: (opts.seed ?? 1) * 1000 + i, backend: opts.backend }));
  }

  forward(x: Tensor): Tensor {
    let h = x;
    this.layers.forEach((layer, i) => {
      h = layer.forward(h);
      if (i < this.layers.length - 1) h = C[this.activation](h);
    });
    return h;
  }
}
