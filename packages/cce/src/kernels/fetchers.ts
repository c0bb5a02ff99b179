// CCE's own operand of its block products (core's engine, ops/tuned/block-product.ts): classifier rows
// gathered through the vocabulary permutation. Plain rows and columns are core's rowsOf and columnsOf.
import { type BufferRef, type Ex, type KernelBuilder, type ProductOperand, i32 } from '@cce/core';

/** Rows perm[v0 + j] of c [V, D] for j < count, gathered once per product and read along D. */
export function gatheredRows(b: KernelBuilder, c: BufferRef, perm: BufferRef | null, v0: Ex, count: Ex, D: Ex): ProductOperand {
  return {
    along: 'k',
    row: (j, name) => {
      const ok = b.let(`${name}_ok`, j.lt(count));
      const ent = perm ? ok.select(perm.at(v0.add(j)), i32(0)) : v0.add(j);
      const base = b.let(`${name}_base`, ent.mul(D));
      return { ok, at: (k) => c.at(base.add(k)) };
    },
  };
}
