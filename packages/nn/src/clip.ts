// Global gradient-norm clipping on the device: the norm over every parameter's gradient and the clip
// factor min(1, maxNorm / (norm + 1e-6)) stay device tensors (no host round trip), so an optimizer's
// update kernels read the factor as an input and a caller reads the norm only when it logs.
import * as C from '@cce/core';
import type { Kernel, Tensor } from '@cce/core';

const WG = 256;
/** Elements each invocation of the partial-sum kernel adds up (at most). Few: each add waits for its
 *  load, so a parameter's partial sums take as long as one invocation's chain (with 256, tiny's 52
 *  dispatches took 2.3 ms on an H200 for 16M elements). */
const PER_INVOCATION = 32;
/** The most partial sums per window (a multiple of the 64-element range alignment). */
const MAX_PARTIALS = 2 ** 18;

/** out[i] = sum of src[j]^2 over j = i, i + stride, i + 2 stride, ... below n (stride = count). */
const sumSquaresKernel = (): Kernel => C.memoKernel('nn:sumsq_partials', () =>
  C.defineMapKernel('nn_sumsq_partials', { workgroupSize: WG, outputType: 'f32' },
    (b) => ({ src: b.input('src', 'f32'), n: b.uniform('n', 'i32'), iters: b.uniform('iters', 'i32'), stride: b.uniform('stride', 'i32') }),
    ({ b, index }, { src, n, iters, stride }) => {
      const acc = b.var('acc', C.f32(0));
      b.for('k', 0, iters, (k) => {
        const j = b.let('j', index.add(k.mul(stride)));
        b.if(j.lt(n), () => {
          const x = b.let('x', src.at(j));
          acc.set(acc.add(x.mul(x)));
        });
      });
      return acc;
    }));

/** out = sqrt(sum[0]) (count 1). */
const normKernel = (): Kernel => C.memoKernel('nn:grad_norm', () =>
  C.defineMapKernel('nn_grad_norm', { workgroupSize: 64, outputType: 'f32' }, (b) => b.input('sumsq', 'f32'),
    (_ctx, s) => s.at(0).sqrt()));

/** out = min(1, maxNorm / (norm[0] + 1e-6)) (count 1). */
const clipFactorKernel = (): Kernel => C.memoKernel('nn:clip_factor', () =>
  C.defineMapKernel('nn_clip_factor', { workgroupSize: 64, outputType: 'f32' },
    (b) => ({ norm: b.input('norm', 'f32'), maxNorm: b.uniform('maxNorm', 'f32') }),
    (_ctx, { norm, maxNorm }) => maxNorm.div(norm.at(0).add(1e-6)).min(C.f32(1))));

/** out = g * scale[0]. */
const scaleKernel = (): Kernel => C.memoKernel('nn:scale_by', () =>
  C.defineMapKernel('nn_scale_by', { workgroupSize: WG, outputType: 'f32' },
    (b) => ({ g: b.input('g', 'f32'), scale: b.input('scale', 'f32') }),
    ({ index }, { g, scale }) => g.at(index).mul(scale.at(0))));

const roundUp = (x: number, m: number) => Math.ceil(x / m) * m;

export interface GradNorm {
  /** The global L2 norm of the gradients, a [1] device tensor (read it at logging intervals). */
  norm: Tensor;
  /** min(1, maxNorm / (norm + 1e-6)), a [1] device tensor: the factor the gradients are scaled by. */
  scale: Tensor;
}

/**
 * The global L2 norm over the gradients of `params` (those without one are skipped) and the clip factor
 * for `maxNorm` (Infinity: 1), both computed on the device: one partial-sum dispatch per parameter (per
 * binding window of a large one), then one sum over the partials and two one-element kernels.
 */
export function gradNorm(params: readonly Tensor[], maxNorm = Infinity): GradNorm {
  if (!(maxNorm > 0)) throw new Error(`gradNorm: maxNorm must be positive, got ${maxNorm}`);
  const grads = params.map((p) => p.grad).filter((g): g is Tensor => g !== null);
  const backend = (grads[0] ?? params[0])?.backend;
  if (!backend) throw new Error('gradNorm: no parameters');
  return C.noGrad(() => {
    // Every window's partial sums get a 64-aligned slot of one partials tensor.
    const jobs: { g: Tensor; w: { offset: number; length: number }; parts: number; slot: number }[] = [];
    let total = 0;
    for (const g of grads) {
      if (g.dtype !== 'f32') throw new Error(`gradNorm: gradient ${g} is not f32`);
      for (const w of C.bindingWindows('gradNorm', backend, g.size)) {
        if (w.length === 0) continue;
        const parts = Math.min(MAX_PARTIALS, roundUp(Math.ceil(w.length / PER_INVOCATION), C.RANGE_ALIGNMENT));
        jobs.push({ g, w, parts, slot: total });
        total += parts;
      }
    }
    const one = (value: number) => C.full([1], value, { backend });
    if (total === 0) return { norm: one(0), scale: one(1) };
    // With binding windows, every partial sum lands in one tensor; otherwise each window gets its own
    // and they are concatenated.
    const shared = jobs.length > 1 && backend.capabilities.bindingRanges === true;
    const partials = shared ? C.Tensor.empty([total], 'f32', backend, 'gradNorm') : null;
    const pieces: Tensor[] = [];
    for (const j of jobs) {
      const out = partials ? C.windowOf(partials, { offset: j.slot, length: j.parts }) : C.Tensor.empty([j.parts], 'f32', backend, 'gradNorm');
      const grid = C.grid1d(j.parts, WG, backend.capabilities.limits.maxWorkgroupsPerDimension);
      C.dispatchKernel(backend, sumSquaresKernel(), { src: C.windowOf(j.g, j.w), out },
        { count: j.parts, stride: j.parts, n: j.w.length, iters: Math.ceil(j.w.length / j.parts) }, grid);
      if (out instanceof C.Tensor) pieces.push(out);
    }
    const all = partials ?? (pieces.length === 1 ? pieces[0]! : C.concat(pieces, 0));
    if (!partials && pieces.length > 1) for (const p of pieces) p.dispose();
    const sumsq = C.sum(all);
    all.dispose();
    const norm = C.runMap(normKernel(), C.Tensor.empty([1], 'f32', backend, 'gradNorm'), { sumsq }, {}, 1);
    sumsq.dispose();
    const scale = C.runMap(clipFactorKernel(), C.Tensor.empty([1], 'f32', backend, 'gradNorm'), { norm },
      { maxNorm: Number.isFinite(maxNorm) ? maxNorm : 3.0e38 }, 1);
    return { norm, scale };
  });
}

/**
 * Scales every gradient by `scale[0]` (a device tensor, such as gradNorm's factor) in place: one dispatch
 * per gradient (per binding window).
 */
export function scaleGrads(params: readonly Tensor[], scale: Tensor): void {
  C.noGrad(() => {
    for (const p of params) {
      const g = p.grad;
      if (!g) continue;
      const out = C.Tensor.empty(g.shape, 'f32', g.backend, 'scaleGrads');
      C.dispatchWindows('scaleGrads', scaleKernel(), g.size, { out, g }, { scale }, {}, g.backend);
      g.assign(out);
    }
  });
}

/**
 * PyTorch's clip_grad_norm_: scales the gradients by min(1, maxNorm / (norm + 1e-6)) on the device and
 * returns the norm before clipping as a [1] device tensor (nothing is read back).
 */
export function clipGradNorm(params: readonly Tensor[], maxNorm: number): Tensor {
  const { norm, scale } = gradNorm(params, maxNorm);
  scaleGrads(params, scale);
  scale.dispose();
  return norm;
}
