// A tile engine for CCE's fused products: a workgroup of side x side invocations computes a tile x tile
// block of Σ_k A[row, k] B[k, col] in registers (per x per each, tile = side * per), stepping through k
// in slices of 16 staged in workgroup memory. Operands are read through fetch functions, so a kernel can gather rows through
// the vocabulary permutation, scale by per-token factors, or bound-check, and the k loop can skip
// slices a filter mask rules out. Invocation (tx, ty) owns rows ty + 16 r and columns tx + 16 c, so its
// reads of workgroup memory are broadcasts (A) or contiguous (B): no bank conflicts. Shapes: 64-blocks of
// 16 x 16 invocations of 4 x 4 or 8 x 8 invocations of 8 x 8, and 128-blocks of 16 x 16 invocations of
// 8 x 8 (the most arithmetic per load).
import { type Ex, type KernelBuilder, type VarRef, f32, vec } from '@cce/core';

export const SLICE = 16;

export interface EngineShape {
  /** Invocations per side of the workgroup. */
  side: 8 | 16;
  /** Block rows and columns (a multiple of 32, the filter tile). */
  tile: 64 | 128;
  /**
   * Stage slices as vec4s, laid out so that an invocation's rows (ty + side r) sit in consecutive
   * slots: one vec4 read of workgroup memory serves 4 of its rows (or columns) instead of 4 scalar reads.
   */
  vec4?: boolean;
}
export const ENGINE_SHAPES: Record<string, EngineShape> = {
  '64/4x4': { side: 16, tile: 64 },
  '64/8x8': { side: 8, tile: 64 },
  '128/8x8': { side: 16, tile: 128 },
  '64/4x4/v4': { side: 16, tile: 64, vec4: true },
  '64/8x8/v4': { side: 8, tile: 64, vec4: true },
};
/** The forward's log-sum-exp kernel, or the backward's gradient kernels. */
export type EngineRole = 'forward' | 'backward';

/**
 * Default shapes, from H100 timings (BENCHMARKS.md): the forward product runs fastest on 8 x 8
 * invocations with vec4 slices; the backward's masked, mostly skipped kernels on 16 x 16 invocations.
 * Both have 64-blocks, so the forward's block bounds line up with the backward's blocks.
 */
const DEFAULT_SHAPES: Record<EngineRole, string> = { forward: '64/8x8/v4', backward: '64/4x4' };
const current: Record<EngineRole, EngineShape> = {
  forward: ENGINE_SHAPES[DEFAULT_SHAPES.forward]!,
  backward: ENGINE_SHAPES[DEFAULT_SHAPES.backward]!,
};

/** The engine shape new CCE kernels use, for one role or both (the benchmark and tests compare them). */
export function setEngineShape(name: string, role?: EngineRole): void {
  const shape = ENGINE_SHAPES[name];
  if (!shape) throw new Error(`unknown engine shape '${name}' (have ${Object.keys(ENGINE_SHAPES).join(', ')})`);
  for (const r of role ? [role] : (['forward', 'backward'] as const)) current[r] = shape;
}

/** Back to the default shapes. */
export function resetEngineShapes(): void {
  for (const r of ['forward', 'backward'] as const) current[r] = ENGINE_SHAPES[DEFAULT_SHAPES[r]]!;
}

export const engineShape = (role: EngineRole): EngineShape => current[role];
export const engineThreads = (s: EngineShape) => s.side * s.side;
export const shapeKey = (s: EngineShape) => `${s.tile}/${s.side}${s.vec4 ? '/v4' : ''}`;

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
  const tid = b.let('tid', b.localIndex());
  const tx = b.let('tx', tid.mod(SIDE));
  const ty = b.let('ty', tid.div(SIDE));
  const localRows = Array.from({ length: PER }, (_, r) => (r === 0 ? ty : b.let(`lr${r}`, ty.add(SIDE * r))));
  const localCols = Array.from({ length: PER }, (_, c) => (c === 0 ? tx : b.let(`lc${c}`, tx.add(SIDE * c))));
  const acc = localRows.map((_, r) => localCols.map((__, c) => b.var(`acc${r}_${c}`, f32(0))));

  // Scalar layout: tile[kk * TILE + i]. Vec4 layout: tile[kk * TILE / 4 + (i % SIDE) * PER / 4 + m] holds
  // rows i = s + SIDE (4 m + 0..3) for s = i % SIDE, so invocation s reads its PER rows as PER / 4 vec4s.
  const vec4 = !!shape.vec4;
  const As = vec4 ? b.workgroupArray('a_tile', 'vec4<f32>', (SLICE * TILE) / 4) : b.workgroupArray('a_tile', 'f32', SLICE * TILE);
  const Bs = vec4 ? b.workgroupArray('b_tile', 'vec4<f32>', (SLICE * TILE) / 4) : b.workgroupArray('b_tile', 'f32', SLICE * TILE);
  const stores = (vec4 ? (TILE * SLICE) / 4 : TILE * SLICE) / TILE_THREADS;

  // Stages slice [k0, k0 + SLICE) of an operand. Consecutive invocations take consecutive k when k is
  // contiguous in memory, else consecutive rows, so global reads coalesce.
  const stage = (op: TileOperand, tile: typeof As, base: Ex, k0: Ex, name: string) => {
    for (let q = 0; q < stores; q++) {
      const e = q === 0 ? tid : tid.add(q * TILE_THREADS);
      if (!vec4) {
        const [i, kk] = op.kContiguous ? [e.div(SLICE), e.mod(SLICE)] : [e.mod(TILE), e.div(TILE)];
        const li = b.let(`${name}_i${q}`, i);
        const lk = b.let(`${name}_k${q}`, kk);
        tile.store(lk.mul(TILE).add(li), op.fetch(base.add(li), k0.add(lk)));
        continue;
      }
      // Group (kk, slot) with slot = s * PER / 4 + m covers rows s + SIDE * (4 m + c), c = 0..3.
      const groups = TILE / 4;
      const [slot, kk] = op.kContiguous ? [e.div(SLICE), e.mod(SLICE)] : [e.mod(groups), e.div(groups)];
      const ls = b.let(`${name}_s${q}`, slot);
      const lk = b.let(`${name}_k${q}`, kk);
      const first = b.let(`${name}_r${q}`, ls.div(PER / 4).add(ls.mod(PER / 4).mul(4 * SIDE)));
      const parts = [0, 1, 2, 3].map((c) => op.fetch(base.add(c === 0 ? first : first.add(c * SIDE)), k0.add(lk)));
      tile.store(lk.mul(groups).add(ls), vec('vec4<f32>', ...parts));
    }
  };

  // The values of this invocation's rows (or columns) at slice position kk.
  const readOwn = (tile: typeof As, own: Ex[], lane: Ex, kk: number, name: string): Ex[] => {
    if (!vec4) return own.map((r, i) => b.let(`${name}${kk}_${i}`, tile.at(r.add(kk * TILE))));
    const quads = Array.from({ length: PER / 4 }, (_, m) => b.let(`${name}${kk}_q${m}`, tile.at(lane.mul(PER / 4).add(kk * (TILE / 4) + m))));
    return own.map((_, r) => quads[Math.floor(r / 4)]!.component(r % 4));
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
            const a = readOwn(As, localRows, ty, kk, 'a');
            const bv = readOwn(Bs, localCols, tx, kk, 'b');
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
