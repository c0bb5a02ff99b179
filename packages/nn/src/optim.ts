// Optimizers. Updates are elementwise kernels writing new tensors that replace the parameters'
// buffers (Tensor.assign), since a WebGPU kernel may not bind one buffer as both input and output.
import * as C from '@cce/core';
import type { Tensor } from '@cce/core';

export class SGD {
  constructor(readonly params: Tensor[], public lr: number) {}

  step(): void {
    C.noGrad(() => {
      for (const p of this.params) {
        if (!p.grad) continue;
        p.assign(C.mapElementwise('sgd_step', [p, p.grad], 'f32', ([w, g], [lr]) => w!.sub(g!.mul(lr!)), [this.lr]));
      }
    });
  }
}

export interface AdamWOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

/** Adam with decoupled weight decay (Loshchilov and Hutter), with bias correction. */
export class AdamW {
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  private t = 0;
  private readonly m: Tensor[];
  private readonly v: Tensor[];

  constructor(readonly params: Tensor[], opts: AdamWOptions = {}) {
    this.lr = opts.lr ?? 1e-3;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.01;
    this.m = params.map((p) => C.keep(C.zerosLike(p)));
    this.v = params.map((p) => C.keep(C.zerosLike(p)));
  }

  step(): void {
    this.t++;
    const c1 = 1 - this.beta1 ** this.t;
    const c2 = 1 - this.beta2 ** this.t;
    C.noGrad(() => {
      this.params.forEach((p, i) => {
        if (!p.grad) return;
        const m = this.m[i]!;
        const v = this.v[i]!;
        const g = p.grad;
        m.assign(C.mapElementwise('adam_m', [m, g], 'f32', ([mv, gv], [b]) => mv!.mul(b!).add(gv!.mul(b!.neg().add(1))), [this.beta1]));
        v.assign(C.mapElementwise('adam_v', [v, g], 'f32', ([vv, gv], [b]) => vv!.mul(b!).add(gv!.mul(gv!).mul(b!.neg().add(1))), [this.beta2]));
        p.assign(C.mapElementwise('adamw_step', [p, m, v], 'f32', ([w, mv, vv], [lr, cm, cv, eps, wd]) => {
          const update = mv!.div(cm!).div(vv!.div(cv!).sqrt().add(eps!));
          return w!.sub(update.add(w!.mul(wd!)).mul(lr!));
        }, [this.lr, c1, c2, this.eps, this.weightDecay]));
      });
    });
  }

  dispose(): void {
    for (const t of [...this.m, ...this.v]) t.dispose();
  }
}
