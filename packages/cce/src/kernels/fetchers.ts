// The operands of CCE's block products (core's engine, ops/tuned/block-product.ts): rows read along
// their width, rows gathered through the vocabulary permutation, and columns of a [rows, D] matrix.
import { type BufferRef, type Ex, type KernelBuilder, type ProductOperand, i32 } from '@cce/core';

/** Rows of a [rows, width] matrix read along their width (e's token rows, h's rows). */
export function rowsOf(b: KernelBuilder, src: BufferRef, rows: Ex, width: Ex, scale?: (i: Ex) => Ex): ProductOperand {
  return {
    along: 'k',
    row: (i, name) => {
      const base = b.let(`${name}_base`, i.mul(width));
      return { ok: b.let(`${name}_ok`, i.lt(rows)), at: (k) => (scale ? src.at(base.add(k)).mul(scale(i)) : src.at(base.add(k))) };
    },
  };
}

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

/**
 * Columns d of rows rowOf(k) of a [rows, D] matrix, over k: read along D, as vec4s where D is a multiple
 * of 4 (`src` then declared vec4<f32>).
 */
export function columnsOf(b: KernelBuilder, src: BufferRef, D: Ex, vec4: boolean, rowOf: (k: Ex) => Ex): ProductOperand {
  if (vec4) {
    const D4 = b.let('d4', D.div(4));
    return { along: 'rows', quad: (d, name) => ({ ok: b.let(`${name}_ok`, d.lt(D)), at: (k) => src.at(rowOf(k).mul(D4).add(d.div(4))) }) };
  }
  return { along: 'rows', row: (d, name) => ({ ok: b.let(`${name}_ok`, d.lt(D)), at: (k) => src.at(rowOf(k).mul(D).add(d)) }) };
}
