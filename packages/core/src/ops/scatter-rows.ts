// scatterAdd of rows (the gradient of gather): out[v, d] = Σ_{n: ids[n] = v} src[n, d], deterministic
// (each output element has one owner and sums in ascending n) and without scanning every id for every
// output element, which costs V·D·N (20 ms for GPT-2's embedding gradient on an H200). Instead the ids
// are linked into one chain per row: next[n] is the following position with the same id, head[v] the
// first and count[v] the length. Those cost N²/2 and 2·V·N compares; the sum then walks only its own
// row's chain. Four map kernels, so every backend runs them.
import { defineMapKernel, f32, i32 } from '../ir/builder.js';
import type { Kernel } from '../ir/types.js';
import { Tensor } from '../tensor.js';
import { runtimeNaN } from './kernels.js';
import { memoKernel, runMap } from './launch.js';
import { dispatchWindows } from './windows.js';

const WG = 256;

/** next[n] = the smallest m > n with ids[m] = ids[n], or N. */
const nextKernel = (): Kernel => memoKernel('scatter_rows_next', () =>
  defineMapKernel('scatter_rows_next', { workgroupSize: WG, outputType: 'i32' },
    (b) => ({ ids: b.input('ids', 'i32'), N: b.uniform('N', 'i32') }),
    ({ b, index }, { ids, N }) => {
      const id = b.let('id', ids.at(index));
      const found = b.var('found', N);
      b.for('m', index.add(1), N, (m) => b.if(found.eq(N).and(ids.at(m).eq(id)), () => found.set(m)));
      return found;
    }));

/** Over the ids, for row v: the first position holding v (or N) when `first`, else how many hold v.
 *  Every row sees every id, so an id outside [0, rows) marks every row with -1 (the sum then gives NaN). */
const rowScanKernel = (first: boolean): Kernel => memoKernel(`scatter_rows_${first ? 'head' : 'count'}`, () =>
  defineMapKernel(`scatter_rows_${first ? 'head' : 'count'}`, { workgroupSize: WG, outputType: 'i32' },
    (b) => ({ ids: b.input('ids', 'i32'), N: b.uniform('N', 'i32'), R: b.uniform('rows', 'i32') }),
    ({ b, index }, { ids, N, R }) => {
      const acc = b.var('acc', first ? N : i32(0));
      const bad = b.var('bad', i32(0));
      b.for('n', 0, N, (n) => {
        const id = b.let('id', ids.at(n));
        if (first) b.if(acc.eq(N).and(id.eq(index)), () => acc.set(n));
        else b.if(id.eq(index), () => acc.set(acc.add(1)));
        b.if(id.lt(0).or(id.ge(R)), () => bad.set(1));
      });
      return bad.eq(1).select(i32(-1), acc);
    }));

/** out[v, d] over the rows [row0, row0 + window rows): the sum along row v's chain, NaN when head is -1. */
const sumKernel = (): Kernel => memoKernel('scatter_rows_sum', () =>
  defineMapKernel('scatter_rows_sum', { workgroupSize: WG, outputType: 'f32' },
    (b) => ({
      src: b.input('src', 'f32'), next: b.input('next', 'i32'), head: b.input('head', 'i32'), count: b.input('rowCount', 'i32'),
      D: b.uniform('D', 'i32'), row0: b.uniform('row0', 'i32'),
    }),
    ({ b, index }, { src, next, head, count, D, row0 }) => {
      const row = b.let('row', index.div(D).add(row0));
      const col = b.let('col', index.mod(D));
      const h = b.let('h', head.at(row));
      const acc = b.var('acc', f32(0));
      const k = b.var('k', h);
      b.if(h.ge(0), () => b.for('s', 0, count.at(row), () => {
        acc.set(acc.add(src.at(k.mul(D).add(col))));
        k.set(next.at(k));
      }), () => acc.set(runtimeNaN(b, row)));
      return acc;
    }));

/** Fills `out` [rows, D] with the row sums of src [N, D] by ids [N] (see the file's comment). */
export function scatterAddRowsInto(out: Tensor, src: Tensor, ids: Tensor, rows: number, D: number): void {
  const N = ids.size;
  const be = out.backend;
  const next = Tensor.empty([N], 'i32', be, 'scatterAdd');
  const head = Tensor.empty([rows], 'i32', be, 'scatterAdd');
  const count = Tensor.empty([rows], 'i32', be, 'scatterAdd');
  try {
    runMap(nextKernel(), next, { ids }, { N });
    runMap(rowScanKernel(true), head, { ids }, { N, rows });
    runMap(rowScanKernel(false), count, { ids }, { N, rows });
    dispatchWindows('scatterAdd', sumKernel(), out.size, { out }, { src, next, head, rowCount: count },
      (w) => ({ D, row0: w.offset / D }), be, D);
  } finally {
    next.dispose();
    head.dispose();
    count.dispose();
  }
}
