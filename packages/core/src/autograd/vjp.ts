// Every VJP rule in one table. Its type demands a rule for each OpName, so an op added to OpAttrs
// without a rule fails the type check. Rules run under noGrad and return one gradient per input
// (null where an input has none); backward() checks their shapes.
import type { Tensor } from '../tensor.js';
import type { OpName } from './node.js';
import type { OpAttrs, TapeNode } from './record.js';
import {
  broadcastTo, compare, div, gather, geluBackward, mapElementwise, matmul, mean, mul,
  mulScalar, neg, oneHot, pad, permute, pick, reshape, scatterAdd, slice, sum,
} from '../ops/api.js';
import { type Ex, f32 } from '../ir/builder.js';
import { layerNormApply } from '../ops/nn-ops.js';
import { withOpName } from './op-context.js';

type Rule<K extends OpName> = (g: Tensor, node: TapeNode<K>) => (Tensor | null)[];
type RuleTable = { [K in OpName]: Rule<K> };

/** Sums a broadcast gradient back to `shape`. */
export function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.join() === shape.join()) return g;
  const lead = g.rank - shape.length;
  const axes = g.shape.map((_, i) => i).filter((i) => i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1));
  return reshape(sum(g, axes, { keepDims: true }), shape);
}

const x0 = (n: TapeNode) => n.inputs[0]!;
const ignoring = (ignoreIndex: number | null) => (ignoreIndex === null ? {} : { ignoreIndex });
const x1 = (n: TapeNode) => n.inputs[1]!;
/** g ⊙ f(x, y) elementwise, for rules of the form dy/dx = f(...). */
const scaled = (name: string, ts: Tensor[], f: Parameters<typeof mapElementwise>[3]) => mapElementwise(name, ts, 'f32', f);
const reductionKeepShape = (x: Tensor, axes: number[]) => x.shape.map((d, i) => (axes.includes(i) ? 1 : d));

function matmulGrads(g: Tensor, n: TapeNode<'matmul'>): (Tensor | null)[] {
  const [a, b] = n.inputs as [Tensor, Tensor];
  const { transA, transB } = n.attrs;
  const da = transA ? matmul(b, g, { transA: transB, transB: true }) : matmul(g, b, { transB: !transB });
  return [sumTo(da, a.shape), matmulWeightGrad(a, b, g, transA, transB)];
}

/** b's gradient; a 2-D b under a batched a takes one product over the flattened rows, not a [batch, ...] sum. */
function matmulWeightGrad(a: Tensor, b: Tensor, g: Tensor, transA: boolean, transB: boolean): Tensor {
  if (b.rank === 2 && a.rank > 2 && !transA) {
    const rows = a.shape.slice(0, -1).reduce((x, y) => x * y, 1);
    const a2 = reshape(a, [rows, a.shape[a.rank - 1]!]);
    const g2 = reshape(g, [rows, g.shape[g.rank - 1]!]);
    return transB ? matmul(g2, a2, { transA: true }) : matmul(a2, g2, { transA: true });
  }
  const db = transB ? matmul(g, a, { transA: true, transB: transA }) : matmul(a, g, { transA: !transA });
  return sumTo(db, b.shape);
}

function extremumGrads(name: string, keepA: (a: Ex, b: Ex) => Ex) {
  return (g: Tensor, n: TapeNode): (Tensor | null)[] => {
    const [a, b] = n.inputs as [Tensor, Tensor];
    const ga = scaled(`${name}_ga`, [a, b, g], ([x, y, gr]) => keepA(x!, y!).select(gr!, f32(0)));
    const gb = scaled(`${name}_gb`, [a, b, g], ([x, y, gr]) => keepA(x!, y!).select(f32(0), gr!));
    return [sumTo(ga, a.shape), sumTo(gb, b.shape)];
  };
}

export const vjpRules: RuleTable = {
  neg: (g) => [neg(g)],
  exp: (g, n) => [mul(g, n.output)],
  log: (g, n) => [div(g, x0(n))],
  sqrt: (g, n) => [scaled('sqrt_backward', [n.output, g], ([y, gr]) => gr!.mul(0.5).div(y!))],
  rsqrt: (g, n) => [scaled('rsqrt_backward', [n.output, g], ([y, gr]) => gr!.mul(y!.mul(y!).mul(y!)).mul(-0.5))],
  tanh: (g, n) => [scaled('tanh_backward', [n.output, g], ([y, gr]) => gr!.mul(f32(1).sub(y!.mul(y!))))],
  abs: (g, n) => [scaled('abs_backward', [x0(n), g], ([x, gr]) => x!.gt(0).select(gr!, x!.lt(0).select(gr!.neg(), f32(0))))],
  relu: (g, n) => [scaled('relu_backward', [x0(n), g], ([x, gr]) => x!.gt(0).select(gr!, f32(0)))],
  sigmoid: (g, n) => [scaled('sigmoid_backward', [n.output, g], ([y, gr]) => gr!.mul(y!).mul(f32(1).sub(y!)))],
  gelu: (g, n) => [geluBackward(x0(n), g)],

  add: (g, n) => [sumTo(g, x0(n).shape), sumTo(g, x1(n).shape)],
  sub: (g, n) => [sumTo(g, x0(n).shape), sumTo(neg(g), x1(n).shape)],
  mul: (g, n) => [sumTo(mul(g, x1(n)), x0(n).shape), sumTo(mul(g, x0(n)), x1(n).shape)],
  div: (g, n) => [
    sumTo(div(g, x1(n)), x0(n).shape),
    sumTo(scaled('div_backward_b', [g, n.output, x1(n)], ([gr, q, b]) => gr!.mul(q!).div(b!).neg()), x1(n).shape),
  ],
  maximum: extremumGrads('maximum', (a, b) => a.ge(b)),
  minimum: extremumGrads('minimum', (a, b) => a.le(b)),
  addScalar: (g) => [g],
  mulScalar: (g, n) => [mulScalar(g, n.attrs.value)],
  compare: () => [null, null],
  compareScalar: () => [null],
  cast: () => [null],
  where: (g, n) => {
    const [c, a, b] = n.inputs as [Tensor, Tensor, Tensor];
    const ga = scaled('where_ga', [c, g], ([cv, gr]) => cv!.ne(c.dtype === 'f32' ? f32(0) : 0).select(gr!, f32(0)));
    const gb = scaled('where_gb', [c, g], ([cv, gr]) => cv!.ne(c.dtype === 'f32' ? f32(0) : 0).select(f32(0), gr!));
    return [null, sumTo(ga, a.shape), sumTo(gb, b.shape)];
  },

  sum: (g, n) => [broadcastTo(reshape(g, reductionKeepShape(x0(n), n.attrs.axes)), x0(n).shape)],
  max: (g, n) => {
    const x = x0(n);
    const keep = reductionKeepShape(x, n.attrs.axes);
    const hits = compare(x, 'eq', reshape(n.output, keep));
    const ties = sum(hits, n.attrs.axes, { keepDims: true });
    return [scaled('max_backward', [hits, reshape(g, keep), ties], ([h, gr, t]) => h!.mul(gr!).div(t!))];
  },
  matmul: matmulGrads,

  reshape: (g, n) => [reshape(g, x0(n).shape)],
  permute: (g, n) => {
    const inverse = n.attrs.perm.map((_, i) => n.attrs.perm.indexOf(i));
    return [permute(g, inverse)];
  },
  slice: (g, n) => [pad(g, n.attrs.starts, x0(n).shape)],
  pad: (g, n) => [slice(g, n.attrs.starts, n.attrs.starts.map((s, i) => s + x0(n).shape[i]!))],
  concat: (g, n) => {
    let lo = 0;
    return n.inputs.map((t) => {
      const starts = t.shape.map((_, i) => (i === n.attrs.axis ? lo : 0));
      const ends = t.shape.map((d, i) => (i === n.attrs.axis ? lo + d : g.shape[i]!));
      lo += t.shape[n.attrs.axis]!;
      return slice(g, starts, ends);
    });
  },
  broadcastTo: (g, n) => [sumTo(g, x0(n).shape)],

  gather: (g, n) => [scatterAdd(g, x1(n), x0(n).shape[0]!), null],
  scatterAdd: (g, n) => [gather(g, x1(n)), null],
  pick: (g, n) => [oneHot(g, x1(n), x0(n).shape[x0(n).rank - 1]!, ignoring(n.attrs.ignoreIndex)), null],
  oneHot: (g, n) => [pick(g, x1(n), ignoring(n.attrs.ignoreIndex)), null],

  logsumexp: (g, n) => {
    const x = x0(n);
    const keep = [...x.shape.slice(0, -1), 1];
    return [scaled('logsumexp_backward', [x, reshape(n.output, keep), reshape(g, keep)], ([v, l, gr]) => gr!.mul(v!.sub(l!).exp()))];
  },
  layerNorm: (g, n) => {
    const x = x0(n);
    const [mu, rstd] = n.saved as [Tensor, Tensor];
    const xhat = layerNormApply(x, mu, rstd);
    const gMean = mean(g, -1, { keepDims: true });
    const gxMean = mean(mul(g, xhat), -1, { keepDims: true });
    return [scaled('layernorm_backward', [xhat, rstd, g, gMean, gxMean], ([xh, r, gr, a, c]) => r!.mul(gr!.sub(a!).sub(xh!.mul(c!))))];
  },
  fused: (g, n) => {
    const { def, attrs } = n.attrs as OpAttrs['fused'];
    return withOpName(`${def.name} (backward)`, () => def.backward(g, { inputs: n.inputs, output: n.output, saved: n.saved, attrs, needsGrad: n.inputs.map((t) => t.requiresGrad) }));
  },
};

