// RMSNorm as a user's fused op: y = x / sqrt(mean(x², last axis) + eps) * weight, x [..., D], weight [D].
// The forward is two kernels (the per-row rstd = 1 / sqrt(mean(x²) + eps), then y) and saves rstd; the
// backward is three map kernels:
//   dot[r]  = mean_d(g w x)                          (one invocation per row)
//   dx      = rstd * (g w - x rstd² dot)            (one invocation per element)
//   dw[d]   = Σ_r g x rstd                           (one invocation per column)
// Kernels rather than composed core ops: composed, the backward would make four [..., D] temporaries
// and two reductions; here it reads x and g once each per output and writes only dx and dw.
import * as C from '@cce/core';
import type { Kernel, Tensor } from '@cce/core';
import { Module, parameter } from '@cce/nn';

/** 'map' runs everywhere; 'workgroup' reduces each row in workgroup memory (not on mapOnly backends). */
export type RmsNormVariant = 'auto' | 'map' | 'workgroup';
export const RMSNORM_VARIANTS: readonly RmsNormVariant[] = ['auto', 'map', 'workgroup'];

export interface RmsNormOptions {
  eps?: number;
  variant?: RmsNormVariant;
}

interface Attrs {
  eps: number;
  variant: 'map' | 'workgroup';
  D: number;
  rows: number;
}

const WG = 64;
/** Invocations per row of the workgroup variant (a power of two, for the tree). */
const RED = 128;

/** rstd[r] = 1 / sqrt(mean_d x[r, d]² + eps): one invocation per row, looping over D. */
const rstdMap = (): Kernel => C.memoKernel('example:rmsnorm_rstd', () =>
  C.defineMapKernel('rmsnorm_rstd', { workgroupSize: WG, outputType: 'f32' },
    (b) => ({ x: b.input('x', 'f32'), D: b.uniform('D', 'i32'), eps: b.uniform('eps', 'f32') }),
    ({ b, index }, { x, D, eps }) => {
      const base = b.let('base', index.mul(D));
      const acc = b.var('acc', C.f32(0));
      b.for('d', 0, D, (d) => {
        const v = b.let('v', x.at(base.add(d)));
        acc.set(acc.add(v.mul(v)));
      });
      return acc.div(D.toF32()).add(eps).rsqrt();
    }));

/**
 * The same rstd with one workgroup of RED invocations per row: each sums a strided share of the row
 * (neighbouring invocations read neighbouring elements), then a tree in workgroup memory halves the
 * RED partials log2(RED) times. Faster on a GPU for long rows: the map kernel gives a whole row to one
 * invocation, so a few rows leave most of the GPU idle.
 */
const rstdWorkgroup = (): Kernel => C.memoKernel('example:rmsnorm_rstd_wg', () =>
  C.defineKernel('rmsnorm_rstd_wg', { workgroupSize: RED }, (b) => {
    const x = b.input('x', 'f32');
    const out = b.output('out', 'f32');
    const D = b.uniform('D', 'i32');
    const rows = b.uniform('rows', 'i32');
    const eps = b.uniform('eps', 'f32');
    const red = b.workgroupArray('red', 'f32', RED);
    const lid = b.let('lid', b.localIndex());
    // Rows fold over a 2-D grid (at most 65535 workgroups per axis). The test depends on the workgroup
    // alone, so every barrier inside it is reached by all of the workgroup's invocations or by none.
    const row = b.let('row', b.workgroupId(0).add(b.workgroupId(1).mul(b.numWorkgroups(0))));
    b.if(row.lt(rows), () => {
      const base = b.let('base', row.mul(D));
      const acc = b.var('acc', C.f32(0));
      b.for('d', lid, D, (d) => {
        const v = b.let('v', x.at(base.add(d)));
        acc.set(acc.add(v.mul(v)));
      }, RED);
      red.store(lid, acc);
      b.barrier();
      for (let s = RED / 2; s >= 1; s /= 2) {
        b.if(lid.lt(s), () => red.store(lid, red.at(lid).add(red.at(lid.add(s)))));
        b.barrier();
      }
      b.if(lid.eq(0), () => out.store(row, red.at(0).div(D.toF32()).add(eps).rsqrt()));
    });
  }));

/** y = x * rstd[row] * w[col]. */
const applyKernel = (): Kernel => C.memoKernel('example:rmsnorm_apply', () =>
  C.defineMapKernel('rmsnorm_apply', { workgroupSize: WG, outputType: 'f32' },
    (b) => ({ x: b.input('x', 'f32'), rstd: b.input('rstd', 'f32'), w: b.input('w', 'f32'), D: b.uniform('D', 'i32') }),
    ({ index }, { x, rstd, w, D }) => x.at(index).mul(rstd.at(index.div(D))).mul(w.at(index.mod(D)))));

/** dot[r] = mean_d g w x over row r. */
const dotKernel = (): Kernel => C.memoKernel('example:rmsnorm_dot', () =>
  C.defineMapKernel('rmsnorm_dot', { workgroupSize: WG, outputType: 'f32' },
    (b) => ({ x: b.input('x', 'f32'), g: b.input('g', 'f32'), w: b.input('w', 'f32'), D: b.uniform('D', 'i32') }),
    ({ b, index }, { x, g, w, D }) => {
      const base = b.let('base', index.mul(D));
      const acc = b.var('acc', C.f32(0));
      b.for('d', 0, D, (d) => acc.set(acc.add(g.at(base.add(d)).mul(w.at(d)).mul(x.at(base.add(d))))));
      return acc.div(D.toF32());
    }));

/** dx = rstd * (g w - x rstd² dot), per element. */
const dxKernel = (): Kernel => C.memoKernel('example:rmsnorm_dx', () =>
  C.defineMapKernel('rmsnorm_dx', { workgroupSize: WG, outputType: 'f32' },
    (b) => ({ x: b.input('x', 'f32'), g: b.input('g', 'f32'), w: b.input('w', 'f32'), rstd: b.input('rstd', 'f32'), dot: b.input('dot', 'f32'), D: b.uniform('D', 'i32') }),
    ({ b, index }, { x, g, w, rstd, dot, D }) => {
      const r = b.let('r', index.div(D));
      const s = b.let('s', rstd.at(r));
      return s.mul(g.at(index).mul(w.at(index.mod(D))).sub(x.at(index).mul(s).mul(s).mul(dot.at(r))));
    }));

/** dw[d] = Σ_r g x rstd down column d (rows in ascending order). */
const dwKernel = (): Kernel => C.memoKernel('example:rmsnorm_dw', () =>
  C.defineMapKernel('rmsnorm_dw', { workgroupSize: WG, outputType: 'f32' },
    (b) => ({ x: b.input('x', 'f32'), g: b.input('g', 'f32'), rstd: b.input('rstd', 'f32'), D: b.uniform('D', 'i32'), rows: b.uniform('rows', 'i32') }),
    ({ b, index }, { x, g, rstd, D, rows }) => {
      const acc = b.var('acc', C.f32(0));
      b.for('r', 0, rows, (r) => {
        const i = b.let('i', r.mul(D).add(index));
        acc.set(acc.add(g.at(i).mul(x.at(i)).mul(rstd.at(r))));
      });
      return acc;
    }));

const rmsNormOp = C.defineFusedOp<Attrs>({
  name: 'rmsNorm',
  forward([x, w], { eps, variant, D, rows }) {
    const be = x!.backend;
    const rstd = C.Tensor.empty([rows], 'f32', be, 'rmsNorm');
    if (variant === 'map') C.runMap(rstdMap(), rstd, { x: x! }, { D, eps });
    else if (rows > 0) {
      const grid = C.grid1d(rows * RED, RED, be.capabilities.limits.maxWorkgroupsPerDimension);
      C.dispatchKernel(be, rstdWorkgroup(), { x: x!, out: rstd }, { D, rows, eps }, grid);
    }
    const y = C.Tensor.empty(x!.shape, 'f32', be, 'rmsNorm');
    C.runMap(applyKernel(), y, { x: x!, rstd, w: w! }, { D });
    // x is an input, which the tape keeps for the backward (ctx.inputs); only rstd is new. (An input must
    // not go in `saved`: when nothing is recorded, the saved tensors are disposed.)
    return { output: y, saved: [rstd] };
  },
  backward(g, { inputs: [x, w], saved: [rstd], attrs: { D, rows }, needsGrad }) {
    const be = g.backend;
    let dx: Tensor | null = null;
    let dw: Tensor | null = null;
    if (needsGrad[0]) {
      const dot = C.Tensor.empty([rows], 'f32', be, 'rmsNorm backward');
      C.runMap(dotKernel(), dot, { x: x!, g, w: w! }, { D });
      dx = C.runMap(dxKernel(), C.Tensor.empty(x!.shape, 'f32', be, 'rmsNorm backward'), { x: x!, g, w: w!, rstd: rstd!, dot }, { D });
      // dot is a temporary: the tape runs each backward in a scope, which frees it.
    }
    if (needsGrad[1]) dw = C.runMap(dwKernel(), C.Tensor.empty([D], 'f32', be, 'rmsNorm backward'), { x: x!, g, rstd: rstd! }, { D, rows });
    return [dx, dw];
  },
});

const shapeOf = (t: Tensor) => `[${t.shape.join(', ')}]`;

/** RMSNorm over the last axis of x [..., D] with weight [D] (eps default 1e-6). */
export function rmsNorm(x: Tensor, weight: Tensor, opts: RmsNormOptions = {}): Tensor {
  const fail = (why: string): never => {
    throw new Error(`rmsNorm: ${why}`);
  };
  if (!(x instanceof C.Tensor) || !(weight instanceof C.Tensor)) fail('x and weight must be tensors');
  const eps = opts.eps ?? 1e-6;
  const requested = opts.variant ?? 'auto';
  if (x.rank < 1) fail(`x must have rank >= 1 (normalised over its last axis), got shape ${shapeOf(x)}`);
  const D = x.shape[x.rank - 1]!;
  if (x.dtype !== 'f32' || weight.dtype !== 'f32') fail(`x and weight must be f32, got x ${x.dtype} ${shapeOf(x)} and weight ${weight.dtype} ${shapeOf(weight)}`);
  if (weight.rank !== 1 || weight.shape[0] !== D) fail(`weight must have shape [${D}] (x's last axis, x ${shapeOf(x)}), got ${shapeOf(weight)}`);
  if (x.backend !== weight.backend) fail(`x lives on backend '${x.backend.name}', weight on '${weight.backend.name}'`);
  if (!(typeof eps === 'number' && eps > 0 && Number.isFinite(eps))) fail(`eps must be a finite number > 0, got ${eps}`);
  if (!RMSNORM_VARIANTS.includes(requested)) fail(`unknown variant '${requested}' (one of ${RMSNORM_VARIANTS.join(', ')})`);
  const caps = x.backend.capabilities;
  if (requested === 'workgroup' && caps.mapOnly) fail(`the workgroup variant needs workgroup memory; backend '${x.backend.name}' runs map kernels only`);
  // auto: the workgroup variant where the backend runs more than map kernels, except where it prefers map
  // kernels (the reference interpreter runs a workgroup's invocations one after another).
  const variant = requested !== 'auto' ? requested : caps.mapOnly || caps.prefersMapKernels ? 'map' : 'workgroup';
  const rows = x.shape.slice(0, -1).reduce((a, n) => a * n, 1);
  return rmsNormOp([x, weight], { eps, variant, D, rows });
}

/** The same math composed from core ops (recorded by the tape op by op): the tests' reference. */
export function rmsNormComposed(x: Tensor, weight: Tensor, eps = 1e-6): Tensor {
  const rstd = C.rsqrt(C.addScalar(C.mean(C.mul(x, x), -1, { keepDims: true }), eps));
  return C.mul(C.mul(x, rstd), weight);
}

/** An nn layer: a learned scale (initialised to 1) over the last axis. */
export class RMSNorm extends Module {
  readonly weight: Tensor;

  readonly eps: number;
  readonly variant: RmsNormVariant;

  constructor(readonly dim: number, opts: RmsNormOptions & { backend?: C.Backend } = {}) {
    super();
    this.eps = opts.eps ?? 1e-6;
    this.variant = opts.variant ?? 'auto';
    this.weight = parameter(C.ones([dim], { backend: opts.backend }), 'weight');
  }

  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.weight, { eps: this.eps, variant: this.variant });
  }
}
