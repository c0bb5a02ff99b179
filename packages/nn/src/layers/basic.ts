// Basic layers: Embedding, LayerNorm, GELU, Dropout.
import * as C from '@cce/core';
import type { Tensor } from '@cce/core';
import { Module, parameter } from '../module.js';

export interface InitOptions {
  seed?: number;
  backend?: C.Backend;
  /** Standard deviation of the normal init. */
  std?: number;
}

/** table [num, dim]; forward(ids i32 [...]) -> [..., dim] by gather. Init N(0, std²), std 0.02 by default. */
export class Embedding extends Module {
  readonly weight: Tensor;

  constructor(readonly numEmbeddings: number, readonly dim: number, opts: InitOptions = {}) {
    super();
    this.weight = parameter(C.randn([numEmbeddings, dim], { std: opts.std ?? 0.02, seed: opts.seed, backend: opts.backend }), 'weight');
  }

  forward(ids: Tensor): Tensor {
    return C.gather(this.weight, ids);
  }
}

/** Layer normalisation over the last axis with a learned scale (1) and shift (0); eps 1e-5. */
export class LayerNorm extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;

  constructor(readonly dim: number, readonly eps = 1e-5, opts: { backend?: C.Backend } = {}) {
    super();
    this.weight = parameter(C.ones([dim], { backend: opts.backend }), 'weight');
    this.bias = parameter(C.zeros([dim], { backend: opts.backend }), 'bias');
  }

  forward(x: Tensor): Tensor {
    return C.layerNorm(x, this.weight, this.bias, this.eps);
  }
}

/** GELU, core's tanh approximation (GPT-2's "gelu_new"). */
export class GELU extends Module {
  forward(x: Tensor): Tensor {
    return C.gelu(x);
  }
}

/**
 * Dropout with probability p: the identity in eval mode or when p = 0; in training, each element is
 * kept with probability 1 - p and scaled by 1 / (1 - p). Masks come from a seeded generator, so a run
 * is reproducible; `rngState` is the generator's position (for checkpoints).
 */
export class Dropout extends Module {
  /** The number of masks drawn so far; the next mask's seed derives from (seed, rngState). */
  rngState = 0;

  constructor(readonly p = 0, readonly seed = 0) {
    super();
    if (!(p >= 0 && p < 1)) throw new RangeError(`Dropout: p must be in [0, 1), got ${p}`);
  }

  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    const maskSeed = (Math.imul(this.seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(++this.rngState, 0xc2b2ae35)) >>> 0;
    const keep = C.noGrad(() => C.mulScalar(C.compareScalar(C.uniform(x.shape, 0, 1, { seed: maskSeed, backend: x.backend }), 'ge', this.p), 1 / (1 - this.p)));
    return C.mul(x, keep);
  }
}
