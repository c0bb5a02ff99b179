// A tile engine for CCE's fused products: a workgroup of side x side invocations computes a tile x tile
// block of Σ_k A[row, k] B[k, col] in registers (per x per each, tile = side * per), stepping through k
// in slices of 16 staged in workgroup memory. Operands are read through fetch functions, so a kernel can gather rows through
// the vocabulary permutation, scale by per-token factors, or bound-check, and the k loop can skip
// slices a filter mask rules out. Invocation (tx, ty) owns rows ty + 16 r and columns tx + 16 c, so its
// reads of workgroup memory are broadcasts (A) or contiguous (B): no bank conflicts. Shapes: 64-blocks of
// 16 x 16 invocations of 4 x 4 or 8 x 8 invocations of 8 x 8, and 128-blocks of 16 x 16 invocations of
// 8 x 8 (the most arithmetic per load).
import { type Ex, type KernelBuilder, type VarRef, f32 } from '@cce/core';

export const SLICE = 16;

export interface EngineShape {
  /** Invocations per side of the workgroup. */
  side: 8 | 16;
  /** Block rows and columns (a multiple of 32, the filter tile). */
  tile: 64 | 128;
}
export const ENGINE_SHAPES: Record<string, EngineShape> = {
  '64/4x4': { side: 16, tile: 64 },
  '64/8x8': { side: 8, tile: 64 },
  '128/8x8': { side: 16, tile: 128 },
};
let current: EngineShape = ENGINE_SHAPES['64/4x4']!;

/** The engine shape new CCE kernels use ('64/4x4' by default; the benchmark compares them). */
export function setEngineShape(name: keyof typeof ENGINE_SHAPES): void {
  const shape = ENGINE_SHAPES[name];
  if (!shape) throw new Error(`unknown engine shape '${name}' (have ${Object.keys(ENGINE_SHAPES).join(', ')})`);
  current = shape;
}
export const engineShape = (): EngineShape => current;
export const engineThreads = (s: EngineShape = current) => s.side * s.side;
export const shapeKey = (s: EngineShape = current) => `${s.tile}/${s.side}`;

export interface TileOperand {
  /** True when consecutive k are contiguous in memory (load slices k-fastest for coalescing). */
  kContiguous: boolean;
  /** Element (index, k) as f32; must return 0 outside the operand (any index, any k). */
  fetch(index: Ex, k: Ex): Ex;
}

export interface TileEngine {
  /** Row / column indices within the block owned by this invocation (add row0 / col0). */
  localRows: Ex[];
  localCols: Ex[];
  acc: VarRef[][];
  tid: Ex;
  zero(): void;
  /**
   * Accumulates the block at (row0, col0) over k in [kBegin, K) (kBegin a multiple of 16). `active(k0)`
   * (uniform across the workgroup) may rule out the slice starting at k0; barriers stay in uniform
   * control flow either way.
   */
  product(row0: Ex, col0: Ex, K: Ex, active?: (k0: Ex) => Ex, kBegin?: Ex): void;
}

export function createTileEngine(b: KernelBuilder, A: TileOperand, B: TileOperand, shape: EngineShape): TileEngine {
  const SIDE = shape.side;
  const TILE = shape.tile;
  const PER = TILE / SIDE;
  const TILE_THREADS = SIDE * SIDE;
  const As = b.workgroupArray('a_tile', 'f32', SLICE * TILE);
  const Bs = b.workgroupArray('b_tile', 'f32', SLICE * TILE);
  const tid = b.let('tid', b.localIndex());
  const tx = b.let('tx', tid.mod(SIDE));
  const ty = b.let('ty', tid.div(SIDE));
  const localRows = Array.from({ length: PER }, (_, r) => (r === 0 ? ty : b.let(`lr${r}`, ty.add(SIDE * r))));
  const localCols = Array.from({ length: PER }, (_, c) => (c === 0 ? tx : b.let(`lc${c}`, tx.add(SIDE * c))));
  const acc = localRows.map((_, r) => localCols.map((__, c) => b.var(`acc${r}_${c}`, f32(0))));
  const loads = (TILE * SLICE) / TILE_THREADS;

  // Stages slice [k0, k0 + SLICE) of an operand as tile[kk * TILE + i].
  const stage = (op: TileOperand, tile: typeof As, base: Ex, k0: Ex, name: string) => {
    for (let q = 0; q < loads; q++) {
      const e = q === 0 ? tid : tid.add(q * TILE_THREADS);
      const [i, kk] = op.kContiguous ? [e.div(SLICE), e.mod(SLICE)] : [e.mod(TILE), e.div(TILE)];
      const li = b.let(`${name}_i${q}`, i);
      const lk = b.let(`${name}_k${q}`, kk);
      tile.store(lk.mul(TILE).add(li), op.fetch(base.add(li), k0.add(lk)));
    }
  };

  return {
    localRows,
    localCols,
    acc,
    tid,
    zero() {
      for (const row of acc) for (const a of row) a.set(f32(0));
    },
    product(row0, col0, K, active, kBegin) {
      b.for('slice', kBegin ? kBegin.div(SLICE) : 0, K.add(SLICE - 1).div(SLICE), (s) => {
        const k0 = b.let('k0', s.mul(SLICE));
        const on = active ? b.let('on', active(k0)) : null;
        const body = () => {
          stage(A, As, row0, k0, 'ga');
          stage(B, Bs, col0, k0, 'gb');
        };
        if (on) b.if(on, body);
        else body();
        b.barrier();
        const fma = () => {
          for (let kk = 0; kk < SLICE; kk++) {
            const a = localRows.map((r, i) => b.let(`a${kk}_${i}`, As.at(r.add(kk * TILE))));
            const bv = localCols.map((c, j) => b.let(`b${kk}_${j}`, Bs.at(c.add(kk * TILE))));
            acc.forEach((row, i) => row.forEach((v, j) => v.set(v.add(a[i]!.mul(bv[j]!)))));
          }
        };
        if (on) b.if(on, fma);
        else fma();
        b.barrier();
      });
    },
  };
}
