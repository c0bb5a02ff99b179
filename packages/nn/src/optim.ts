// Optimizers. Updates are kernels writing new tensors that replace the parameters' buffers
// (Tensor.assign), since a WebGPU kernel may not bind one buffer as both input and output. Nothing in a
// step reads from the device: hyperparameters known on the host are uniforms, the gradient clip factor
// is a one-element device tensor the update kernels read. Tensors larger than one storage binding are
// updated window by window (core's dispatchWindows).
import * as C from '@cce/core';
import type { Backend, Kernel, Tensor } from '@cce/core';
import { gradNorm } from './clip.js';
import { copyInto } from './windows.js';

const WG = 256;

const sgdKernel = (): Kernel => C.memoKernel('nn:sgd_step', () =>
  C.defineMapKernel('nn_sgd_step', { workgroupSize: WG, outputType: 'f32' },
    (b) => ({ w: b.input('w', 'f32'), g: b.input('g', 'f32'), lr: b.uniform('lr', 'f32') }),
    ({ index }, { w, g, lr }) => w.at(index).sub(g.at(index).mul(lr))));

export class SGD {
  constructor(readonly params: Tensor[], public lr: number) {}

  step(): void {
    C.noGrad(() => {
      for (const p of this.params) {
        if (!p.grad) continue;
        const out = C.Tensor.empty(p.shape, 'f32', p.backend, 'SGD.step');
        C.dispatchWindows('SGD.step', sgdKernel(), p.size, { out, w: p, g: p.grad }, {}, { lr: this.lr }, p.backend);
        p.assign(out);
      }
    });
  }
}

/** A set of parameters sharing a weight decay (AdamW's `weightDecay` when left out). */
export interface ParamGroup {
  params: Tensor[];
  weightDecay?: number;
}

export interface AdamWOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled weight decay, applied to the parameters `decay` selects (default 0.01). */
  weightDecay?: number;
  /** Which parameters (outside explicit groups) decay; default: rank >= 2 (weights, not biases or norms). */
  decay?: (p: Tensor, index: number) => boolean;
  /** Clips the global gradient norm to this before each step, on the device (default: no clipping). */
  maxGradNorm?: number;
}

export interface AdamWStepOptions {
  /** This step's learning rate (a schedule's lrAt); default: `this.lr`, which it also sets. */
  lr?: number;
  /** A [1] device tensor every gradient is multiplied by (a clip factor from gradNorm). */
  gradScale?: Tensor;
}

/** AdamW's state for checkpoints: the step count and m and v per parameter, in parameter order. */
export interface AdamWState {
  step: number;
  m: Tensor[];
  v: Tensor[];
}

/** The same state read back to the host. */
export interface AdamWHostState {
  step: number;
  m: Float32Array[] | Float64Array[];
  v: Float32Array[] | Float64Array[];
}

/** The state loadState takes: device tensors or host arrays, each with its parameter's element count. */
export interface AdamWStateInput {
  step: number;
  m: readonly (Tensor | ArrayLike<number>)[];
  v: readonly (Tensor | ArrayLike<number>)[];
}

/**
 * One dispatch per parameter (per binding window), in place: w, m and v are read and written through
 * their own read_write bindings, g and the scale read. In place, the parameters and moments keep their
 * buffers from step to step, so the buffers a step allocates (and the backend's bind groups for them)
 * repeat. Not a map kernel (those have one output), so mapOnly backends take three map kernels.
 */
const fusedKernel = (): Kernel => C.memoKernel('nn:adamw_inplace', () =>
  C.defineKernel('nn_adamw_inplace', { workgroupSize: WG }, (b) => {
    const w = b.output('w', 'f32');
    const m = b.output('m', 'f32');
    const v = b.output('v', 'f32');
    const g = b.input('g', 'f32');
    const scale = b.input('scale', 'f32');
    const count = b.uniform('count', 'i32');
    const u = uniforms(b);
    b.indexBelow(count, (i) => {
      const gs = b.let('gs', g.at(i).mul(scale.at(0)));
      const mn = b.let('mn', newM(m.at(i), gs, u));
      const vn = b.let('vn', newV(v.at(i), gs, u));
      const wi = b.let('wi', w.at(i));
      w.store(i, newW(wi, mn, vn, u));
      m.store(i, mn);
      v.store(i, vn);
    });
  }));

type U = Record<'lr' | 'b1' | 'b2' | 'c1' | 'c2' | 'eps' | 'wd', C.Ex>;
function uniforms(b: C.KernelBuilder): U {
  const names = ['lr', 'b1', 'b2', 'c1', 'c2', 'eps', 'wd'] as const;
  return Object.fromEntries(names.map((n) => [n, b.uniform(n, 'f32')])) as U;
}
const newM = (m: C.Ex, gs: C.Ex, u: U) => u.b1.mul(m).add(u.b1.neg().add(1).mul(gs));
const newV = (v: C.Ex, gs: C.Ex, u: U) => u.b2.mul(v).add(u.b2.neg().add(1).mul(gs).mul(gs));
/** w - lr * wd * w - lr * (m / c1) / (sqrt(v / c2) + eps), with c1, c2 the bias corrections 1 - beta^t. */
const newW = (w: C.Ex, m: C.Ex, v: C.Ex, u: U) =>
  w.sub(u.lr.mul(u.wd).mul(w)).sub(u.lr.mul(m.div(u.c1)).div(v.div(u.c2).sqrt().add(u.eps)));

const mapM = (): Kernel => C.memoKernel('nn:adamw_m', () =>
  C.defineMapKernel('nn_adamw_m', { workgroupSize: WG, outputType: 'f32' },
    (b) => ({ m: b.input('m', 'f32'), g: b.input('g', 'f32'), scale: b.input('scale', 'f32'), u: uniforms(b) }),
    ({ index }, { m, g, scale, u }) => newM(m.at(index), g.at(index).mul(scale.at(0)), u)));
const mapV = (): Kernel => C.memoKernel('nn:adamw_v', () =>
  C.defineMapKernel('nn_adamw_v', { workgroupSize: WG, outputType: 'f32' },
    (b) => ({ v: b.input('v', 'f32'), g: b.input('g', 'f32'), scale: b.input('scale', 'f32'), u: uniforms(b) }),
    ({ b, index }, { v, g, scale, u }) => newV(v.at(index), b.let('gs', g.at(index).mul(scale.at(0))), u)));
const mapW = (): Kernel => C.memoKernel('nn:adamw_w', () =>
  C.defineMapKernel('nn_adamw_w', { workgroupSize: WG, outputType: 'f32' },
    (b) => ({ w: b.input('w', 'f32'), m: b.input('m', 'f32'), v: b.input('v', 'f32'), u: uniforms(b) }),
    ({ b, index }, { w, m, v, u }) => newW(b.let('wi', w.at(index)), m.at(index), v.at(index), u)));

/**
 * Adam with decoupled weight decay (Loshchilov and Hutter) and bias correction, PyTorch's update:
 * w -= lr * wd * w; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; w -= lr * (m / (1 - b1^t)) /
 * (sqrt(v / (1 - b2^t)) + eps). Weight decay applies to 2-D and larger parameters by default (`decay`
 * or parameter groups choose otherwise). One kernel per parameter updates w, m and v together (three map
 * kernels on map-only backends); with `maxGradNorm`, the gradients are clipped on the device first.
 */
export class AdamW {
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly maxGradNorm: number | undefined;
  readonly params: Tensor[];
  /** Each parameter's weight decay. */
  readonly decays: number[];
  /** The global gradient norm before clipping of the last step with maxGradNorm, a [1] device tensor. */
  gradNorm: Tensor | null = null;
  private t = 0;
  private m: Tensor[];
  private v: Tensor[];
  private readonly one: Tensor | null;

  constructor(params: Tensor[] | ParamGroup[], opts: AdamWOptions = {}) {
    this.lr = opts.lr ?? 1e-3;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.01;
    this.maxGradNorm = opts.maxGradNorm;
    const bad = (name: string, x: number, ok: boolean) => {
      if (!ok) throw new Error(`AdamW: ${name} ${x} is out of range`);
    };
    bad('lr', this.lr, this.lr >= 0 && Number.isFinite(this.lr));
    bad('beta1', this.beta1, this.beta1 >= 0 && this.beta1 < 1);
    bad('beta2', this.beta2, this.beta2 >= 0 && this.beta2 < 1);
    bad('eps', this.eps, this.eps >= 0 && Number.isFinite(this.eps));
    bad('weightDecay', this.weightDecay, this.weightDecay >= 0 && Number.isFinite(this.weightDecay));
    if (this.maxGradNorm !== undefined) bad('maxGradNorm', this.maxGradNorm, this.maxGradNorm > 0);
    const decay = opts.decay ?? ((p: Tensor) => p.rank >= 2);
    this.params = [];
    this.decays = [];
    for (const item of params as (Tensor | ParamGroup)[]) {
      if (item instanceof C.Tensor) {
        this.decays.push(decay(item, this.params.length) ? this.weightDecay : 0);
        this.params.push(item);
      } else {
        for (const p of item.params) {
          this.params.push(p);
          this.decays.push(item.weightDecay ?? this.weightDecay);
        }
      }
    }
    for (const p of this.params) if (p.dtype !== 'f32') throw new Error(`AdamW: parameter ${p} is not f32`);
    this.m = this.params.map((p) => C.keep(C.zeros(p.shape, { backend: p.backend })));
    this.v = this.params.map((p) => C.keep(C.zeros(p.shape, { backend: p.backend })));
    const backend = this.params[0]?.backend;
    this.one = backend ? C.keep(C.ones([1], { backend })) : null;
  }

  /** Steps taken so far (the bias corrections use it). */
  get stepCount(): number {
    return this.t;
  }

  step(opts: AdamWStepOptions = {}): void {
    if (opts.lr !== undefined) this.lr = opts.lr;
    if (!(this.lr >= 0 && Number.isFinite(this.lr))) throw new Error(`AdamW.step: lr ${this.lr} is out of range`);
    this.t++;
    const c1 = 1 - this.beta1 ** this.t;
    const c2 = 1 - this.beta2 ** this.t;
    C.noGrad(() => {
      let scale = opts.gradScale ?? this.one;
      let owned: Tensor | null = null;
      if (this.maxGradNorm !== undefined) {
        if (opts.gradScale) throw new Error('AdamW.step: gradScale given to an optimizer that clips by itself (maxGradNorm)');
        const r = gradNorm(this.params, this.maxGradNorm);
        this.gradNorm?.dispose();
        this.gradNorm = C.keep(r.norm);
        scale = owned = r.scale;
      }
      if (scale && (scale.size !== 1 || scale.dtype !== 'f32')) throw new Error(`AdamW.step: gradScale must be one f32 element, got ${scale}`);
      this.params.forEach((p, i) => {
        if (!p.grad) return;
        this.update(p, p.grad, i, scale!, { lr: this.lr, b1: this.beta1, b2: this.beta2, c1, c2, eps: this.eps, wd: this.decays[i]! });
      });
      owned?.dispose();
    });
  }

  private update(p: Tensor, g: Tensor, i: number, scale: Tensor, u: Record<string, number>): void {
    const backend: Backend = p.backend;
    const m = this.m[i]!;
    const v = this.v[i]!;
    if (!backend.capabilities.mapOnly) {
      C.dispatchWindows('AdamW.step', fusedKernel(), p.size, { w: p, g, m, v }, { scale }, u, backend);
      return;
    }
    const fresh = () => C.Tensor.empty(p.shape, 'f32', backend, 'AdamW.step');
    const wOut = fresh();
    const mOut = fresh();
    const vOut = fresh();
    C.dispatchWindows('AdamW.step', mapM(), p.size, { m, g, out: mOut }, { scale }, u, backend);
    C.dispatchWindows('AdamW.step', mapV(), p.size, { v, g, out: vOut }, { scale }, u, backend);
    C.dispatchWindows('AdamW.step', mapW(), p.size, { w: p, m: mOut, v: vOut, out: wOut }, {}, u, backend);
    m.assign(mOut);
    v.assign(vOut);
    p.assign(wOut);
  }

  /** The state as device tensors (the optimizer's own: read them, do not dispose them). */
  state(): AdamWState {
    return { step: this.t, m: [...this.m], v: [...this.v] };
  }

  /** The state read back to the host (for a checkpoint file). */
  async hostState(): Promise<AdamWHostState> {
    const m = await Promise.all(this.m.map((t) => t.read()));
    const v = await Promise.all(this.v.map((t) => t.read()));
    return { step: this.t, m: m as Float32Array[], v: v as Float32Array[] };
  }

  /**
   * Replaces the state with a copy of `s` (tensors or host arrays), refused before anything changes when the
   * step or any entry's count or shape does not match this optimizer's parameters.
   */
  loadState(s: AdamWStateInput): void {
    if (!Number.isInteger(s.step) || s.step < 0) throw new Error(`AdamW.loadState: step must be a non-negative integer, got ${s.step}`);
    for (const [name, list] of [['m', s.m], ['v', s.v]] as const) {
      if (list.length !== this.params.length) {
        throw new Error(`AdamW.loadState: ${name} has ${list.length} entries for ${this.params.length} parameters`);
      }
      list.forEach((x, i) => {
        const p = this.params[i]!;
        const label = `${name}[${i}]${p.name ? ` ('${p.name}')` : ''}`;
        if (x instanceof C.Tensor) {
          if (x.shape.join() !== p.shape.join() || x.dtype !== 'f32') {
            throw new Error(`AdamW.loadState: ${label} is ${x.dtype} [${x.shape}], the parameter is f32 [${p.shape}]`);
          }
          if (x.backend !== p.backend) throw new Error(`AdamW.loadState: ${label} lives on backend '${x.backend.name}', the parameter on '${p.backend.name}'`);
        } else if (x.length !== p.size) {
          throw new Error(`AdamW.loadState: ${label} has ${x.length} values, the parameter [${p.shape}] has ${p.size}`);
        }
      });
    }
    C.noGrad(() => {
      const load = (dst: Tensor, x: Tensor | ArrayLike<number>) => {
        if (x instanceof C.Tensor) {
          if (x.buffer !== dst.buffer) copyInto(dst, x, 'AdamW.loadState');
        } else if (x.length) dst.backend.write(dst.buffer, x);
      };
      this.params.forEach((_, i) => {
        load(this.m[i]!, s.m[i]!);
        load(this.v[i]!, s.v[i]!);
      });
    });
    this.t = s.step;
  }

  dispose(): void {
    for (const t of [...this.m, ...this.v]) t.dispose();
    this.one?.dispose();
    this.gradNorm?.dispose();
    this.gradNorm = null;
  }
}
