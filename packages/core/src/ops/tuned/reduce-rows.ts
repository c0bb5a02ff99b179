// Row reductions in workgroup memory: one workgroup of 256 invocations per row of a contiguous [M, K]
// source. Each invocation reduces a strided share of the row (coalesced reads), then the workgroup
// combines the 256 partials:
// - 'workgroup': a tree in workgroup memory (8 halving steps, a barrier after each);
// - 'workgroup-subgroups': subgroup operations (where the adapter has them). Each subgroup reduces its
//   partials; the results go to workgroup memory (for a sum only the subgroup's lane 0 writes its total,
//   the others write 0; for a max every lane writes it), and after one barrier lane l of any subgroup
//   reduces the slots l, l + S, l + 2S, ... (S the subgroup size), which a second subgroup operation
//   combines: those slot classes cover the 256 slots exactly once whatever the mapping of invocations
//   to subgroups, provided subgroups are full (256 is a multiple of every subgroup size up to 128).
// logsumexp is max, then the sum of exp(x - max), as the map kernel computes it.
import type { Backend } from '../../backend.js';
import { type Ex, type KernelBuilder, type SharedRef, defineKernel, f32, i32 } from '../../ir/builder.js';
import type { Kernel, NumericScalar } from '../../ir/types.js';
import { kernelFits } from '../../kernel-checks.js';
import { dispatchKernel, grid1d, lengthOf, memoKernel } from '../launch.js';
import type { RowReduction } from '../reduce.js';
import { registerVariant } from '../variants.js';

export const REDUCE_THREADS = 256;
type Op = 'sum' | 'max';

function combine(op: Op, a: Ex, b: Ex): Ex {
  return op === 'sum' ? a.add(b) : a.max(b);
}

/**
 * The subgroup's combination of `v`. A GPU's subgroup max may drop a NaN (as WGSL's max may), so an f32
 * max adds the subgroup's sum of its NaN lanes: 0 without one (x + 0 = x), NaN with one, as the
 * reference's max gives.
 */
function subgroupCombine(b: KernelBuilder, op: Op, v: Ex): Ex {
  if (op === 'sum') return b.subgroupAdd(v);
  const max = b.subgroupMax(v);
  return v.type === 'f32' ? max.add(b.subgroupAdd(v.isNan().select(v, f32(0)))) : max;
}

/** The workgroup's combination of each invocation's `v` (every invocation gets it); ends with a barrier. */
function workgroupReduce(b: KernelBuilder, red: SharedRef, op: Op, v: Ex, subgroups: boolean, lid: Ex): Ex {
  const zero = v.type === 'f32' ? f32(0) : i32(0);
  if (!subgroups) {
    red.store(lid, v);
    b.barrier();
    for (let s = REDUCE_THREADS / 2; s >= 1; s /= 2) {
      b.if(lid.lt(s), () => red.store(lid, combine(op, red.at(lid), red.at(lid.add(s)))));
      b.barrier();
    }
    const total = b.let(`${op}_total`, red.at(0));
    b.barrier();
    return total;
  }
  const lane = b.let(`${op}_lane`, b.subgroupInvocationId());
  const partial = b.let(`${op}_sg`, subgroupCombine(b, op, v));
  red.store(lid, op === 'sum' ? lane.eq(0).select(partial, zero) : partial);
  b.barrier();
  const acc = b.var(`${op}_acc`, red.at(lane));
  const size = b.subgroupSize();
  b.for(`${op}_q`, 1, i32(REDUCE_THREADS).div(size), (q) => acc.set(combine(op, acc, red.at(lane.add(q.mul(size))))));
  const total = b.let(`${op}_total`, subgroupCombine(b, op, acc));
  b.barrier();
  return total;
}

export function workgroupReduceKernel(kind: RowReduction['kind'], type: NumericScalar, subgroups: boolean): Kernel {
  return memoKernel(`reduce:wg:${kind}:${type}:${subgroups}`, () =>
    defineKernel(`reduce_${kind}_rows_wg${subgroups ? '_sg' : ''}`, { workgroupSize: REDUCE_THREADS }, (b) => {
      const src = b.input('src', type);
      const out = b.output('out', type);
      const K = b.uniform('K', 'i32');
      const rows = b.uniform('rows', 'i32');
      const scale = b.uniform('scale', 'f32');
      const red = b.workgroupArray('red', type, REDUCE_THREADS);
      const lid = b.let('lid', b.localIndex());
      // Rows fold over a 2-D grid; the condition depends on the workgroup alone, so barriers inside it
      // are in uniform control flow.
      const row = b.let('row', b.workgroupId(0).add(b.workgroupId(1).mul(b.numWorkgroups(0))));
      b.if(row.lt(rows), () => {
        const base = b.let('base', row.mul(K));
        const stridedMax = () => {
          // Start from an element of the row (a max has no finite identity when -inf may occur).
          const m = b.var('mx', src.at(base.add(lid.min(K.sub(1)))));
          b.for('k', lid, K, (k) => m.set(m.max(src.at(base.add(k)))), REDUCE_THREADS);
          return workgroupReduce(b, red, 'max', m, subgroups, lid);
        };
        let result: Ex;
        if (kind === 'max') {
          result = stridedMax();
        } else if (kind === 'sum') {
          const s = b.var('acc', type === 'f32' ? f32(0) : i32(0));
          b.for('k', lid, K, (k) => s.set(s.add(src.at(base.add(k)))), REDUCE_THREADS);
          const total = workgroupReduce(b, red, 'sum', s, subgroups, lid);
          result = type === 'f32' ? total.mul(scale) : total;
        } else {
          const mx = stridedMax();
          const s = b.var('sum', f32(0));
          b.for('k', lid, K, (k) => s.set(s.add(src.at(base.add(k)).sub(mx).exp())), REDUCE_THREADS);
          result = mx.add(workgroupReduce(b, red, 'sum', s, subgroups, lid).log());
        }
        b.if(lid.eq(0), () => out.store(row, result));
      });
    }));
}

/** Whether `backend` can run the workgroup reduction (with subgroups or not) on `p`. */
export function workgroupReduceFits(backend: Backend, p: RowReduction, subgroups: boolean): boolean {
  const caps = backend.capabilities;
  const max = caps.limits.maxWorkgroupsPerDimension;
  if (!kernelFits(backend, reduceKernelFor(p, subgroups))) return false;
  if (lengthOf(p.out) > max * max || p.K < 1) return false;
  // The subgroup reduction also needs whole subgroups in its workgroup.
  const sg = caps.subgroupSize;
  return !subgroups || sg === undefined || (REDUCE_THREADS % sg === 0 && sg <= REDUCE_THREADS);
}

const reduceKernelFor = (p: RowReduction, subgroups: boolean) =>
  workgroupReduceKernel(p.kind, (p.kind === 'logsumexp' ? 'f32' : p.src.dtype) as NumericScalar, subgroups);

export function runWorkgroupReduce(backend: Backend, p: RowReduction, subgroups: boolean): void {
  const kernel = reduceKernelFor(p, subgroups);
  const rows = lengthOf(p.out);
  dispatchKernel(backend, kernel, { src: p.src, out: p.out }, { K: p.K, rows, scale: p.scale },
    grid1d(rows, 1, backend.capabilities.limits.maxWorkgroupsPerDimension));
}

/** Rows shorter than this reduce as well with one invocation per row (the map kernel). */
const MIN_K = 64;

registerVariant<RowReduction>('reduceRows', {
  name: 'workgroup-subgroups',
  priority: 30,
  tuned: true,
  supports: (backend, p) => p.K >= MIN_K && workgroupReduceFits(backend, p, true),
  run: (backend, p) => runWorkgroupReduce(backend, p, true),
});

registerVariant<RowReduction>('reduceRows', {
  name: 'workgroup',
  priority: 20,
  tuned: true,
  supports: (backend, p) => p.K >= MIN_K && workgroupReduceFits(backend, p, false),
  run: (backend, p) => runWorkgroupReduce(backend, p, false),
});
