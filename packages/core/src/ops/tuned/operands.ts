// Operands of block products (block-product.ts) that read a plain row-major matrix: its rows along their
// width, or its columns over a range of rows. Gathers and other layouts write their own fetchers.
import type { BufferRef, Ex, KernelBuilder } from '../../ir/builder.js';
import type { ProductOperand } from './block-product.js';

/** Rows i < rows of a [rows, width] matrix read along their width, optionally scaled per row. */
export function rowsOf(b: KernelBuilder, src: BufferRef, rows: Ex, width: Ex, scale?: (i: Ex) => Ex): ProductOperand {
  return {
    along: 'k',
    row: (i, name) => {
      const base = b.let(`${name}_base`, i.mul(width));
      return { ok: b.let(`${name}_ok`, i.lt(rows)), at: (k) => (scale ? src.at(base.add(k)).mul(scale(i)) : src.at(base.add(k))) };
    },
  };
}

/**
 * Columns d < D of rows rowOf(k) of a [rows, D] matrix, over k: read along D, as vec4s where D is a
 * multiple of 4 (`src` then declared vec4<f32>).
 */
export function columnsOf(b: KernelBuilder, src: BufferRef, D: Ex, vec4: boolean, rowOf: (k: Ex) => Ex): ProductOperand {
  if (vec4) {
    const D4 = b.let('d4', D.div(4));
    return { along: 'rows', quad: (d, name) => ({ ok: b.let(`${name}_ok`, d.lt(D)), at: (k) => src.at(rowOf(k).mul(D4).add(d.div(4))) }) };
  }
  return { along: 'rows', row: (d, name) => ({ ok: b.let(`${name}_ok`, d.lt(D)), at: (k) => src.at(rowOf(k).mul(D).add(d)) }) };
}
