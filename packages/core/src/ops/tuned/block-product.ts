// The block-product engine: every tiled product in the project (core's matmul, CCE's logit, gradient
// and weight-gradient products) is built here. A workgroup accumulates a BM x BN block of
// Σ_k A(i, k) B(j, k) in registers, stepping through k in slices of BK. Each slice of A (BM rows x BK)
// and of B (BN rows x BK) is staged in workgroup memory as vec4s (4 consecutive rows per vec4), double
// buffered, so one barrier per slice suffices and the next slice's global loads are in flight while the
// current one is multiplied. Each invocation owns TM x TN outputs, held as (TM x TN / 4) vec4 registers:
// its rows are TM/4 groups of 4 spaced TY*4 apart, its columns TN/4 groups of 4 spaced TX*4 apart, so a
// subgroup's vec4 reads of workgroup memory are contiguous.
//
// Operands are read through fetchers, so a kernel can gather rows through a permutation, scale them,
// or read a transposed layout; a fetcher prepares each row once per product (offsets, gathered indices,
// bounds) and reads element k inside the slice loop. A per-slice predicate (uniform across the
// workgroup) skips the loads and multiply-adds of slices a filter rules out. The caller's epilogue reads
// the accumulators through `rows`, `cols` and `acc`. Barriers sit in uniform control flow only.
import { type Ex, type KernelBuilder, type SharedRef, type VarRef, f32, i32, vec } from '../../ir/builder.js';

export interface TileConfig {
  /** Block rows (of A) and columns (rows of B) per workgroup. */
  BM: number;
  BN: number;
  /** k slice staged per step. */
  BK: number;
  /** Outputs per invocation along rows / columns (multiples of 4). */
  TM: number;
  TN: number;
}

export const tileThreads = (c: TileConfig): number => (c.BM / c.TM) * (c.BN / c.TN);
export const tileKey = (c: TileConfig): string => `${c.BM}x${c.BN}x${c.BK}_${c.TM}x${c.TN}`;

/** Why a tile configuration is malformed, or null. */
export function tileConfigError(c: TileConfig): string | null {
  const T = tileThreads(c);
  if (c.TM % 4 || c.TN % 4) return 'TM and TN must be multiples of 4';
  if (c.BM % c.TM || c.BN % c.TN) return 'BM and BN must be multiples of TM and TN';
  if (((c.BK * c.BM) / 4) % T || ((c.BK * c.BN) / 4) % T) return `BK*BM/4 and BK*BN/4 must be multiples of the ${T} invocations`;
  return null;
}

/** One row of an operand, prepared once per product. */
export interface OperandRow {
  /** The row exists (reads of a missing row are replaced by 0). */
  ok: Ex;
  /** Element k of the row (k < K is checked by the engine); f32, or vec4<f32> from `quad`. */
  at(k: Ex): Ex;
}

export interface ProductOperand {
  /**
   * Which index runs fastest in memory: 'k' (stored [rows, K]) or 'rows' (stored [K, rows]). Loads
   * follow it, so that consecutive invocations read consecutive addresses.
   */
  along: 'k' | 'rows';
  /** Row i (block-relative row0 + local, any value: rows past the operand report !ok). */
  row?(i: Ex, name: string): OperandRow;
  /**
   * Rows i..i+3 (i a multiple of 4) read as one vec4 (along 'rows' only; all four exist or none); the
   * engine uses it where given, else `row`.
   */
  quad?(i: Ex, name: string): OperandRow;
}

export interface ProductOptions {
  /** Slices start here (a multiple of BK); default 0. */
  kBegin?: Ex;
  /** Whether the slice starting at k0 can hold a non-zero product (uniform across the workgroup). */
  active?: (k0: Ex) => Ex;
}

export interface BlockProduct {
  config: TileConfig;
  tid: Ex;
  /** Block-local rows (TM) and columns (TN) this invocation owns; cols[4h..4h+3] are consecutive. */
  rows: Ex[];
  cols: Ex[];
  /** The accumulator of rows[r] x cols[c]. */
  acc(r: number, c: number): Ex;
  /** The vec4 accumulator of rows[r] x cols[4h..4h+3]. */
  acc4(r: number, h: number): VarRef;
  zero(): void;
  /** Accumulates Σ_k A(row0 + i, k) B(col0 + j, k) over k in [kBegin, K). */
  product(row0: Ex, col0: Ex, K: Ex, opts?: ProductOptions): void;
}

/**
 * The workgroup arrays a product stages its slices in (A's and B's, as vec4s). Products that run one
 * after another in a kernel (each ends on a barrier) can share one staging, sized for the largest.
 */
export interface ProductStaging {
  a: SharedRef;
  b: SharedRef;
  aLength: number;
  bLength: number;
}

/** The vec4s of A's and of B's double-buffered slices (a slice along k gets one vec4 of padding a row). */
function stagingLengths(c: TileConfig, A: ProductOperand, B: ProductOperand): [number, number] {
  return [2 * c.BK * (c.BM / 4 + (A.along === 'k' ? 1 : 0)), 2 * c.BK * (c.BN / 4 + (B.along === 'k' ? 1 : 0))];
}

/** One staging large enough for each of `products` (a configuration and its two operands). */
export function createStaging(b: KernelBuilder, name: string, products: [TileConfig, ProductOperand, ProductOperand][]): ProductStaging {
  const [aLength, bLength] = products.map((p) => stagingLengths(...p)).reduce(([x, y], [u, v]) => [Math.max(x, u), Math.max(y, v)], [0, 0]);
  return { a: b.workgroupArray(`${name}_a`, 'vec4<f32>', aLength), b: b.workgroupArray(`${name}_b`, 'vec4<f32>', bLength), aLength, bLength };
}

/** Staging of one operand: which slots (a vec4 of a slice each) this invocation loads. */
interface Slot {
  kk: Ex;
  store: Ex;
  /** Four rows (scalar loads) or one quad. */
  rows: OperandRow[];
}

const ZERO4 = vec('vec4<f32>', 0, 0, 0, 0);

/**
 * A block product of A's and B's rows in configuration `c`; `name` prefixes its variables (unique per
 * kernel); `staging` is shared with other products of the kernel when given, else its own.
 */
export function createBlockProduct(b: KernelBuilder, c: TileConfig, A: ProductOperand, B: ProductOperand, name = 'bp',
  staging?: ProductStaging): BlockProduct {
  const err = tileConfigError(c);
  if (err) throw new Error(`block product ${JSON.stringify(c)}: ${err}`);
  for (const op of [A, B]) if (!op.row && !(op.quad && op.along === 'rows')) throw new Error(`block product: an operand needs row(), or quad() with along 'rows'`);
  const [aNeeds, bNeeds] = stagingLengths(c, A, B);
  const st = staging ?? createStaging(b, name, [[c, A, B]]);
  if (st.aLength < aNeeds || st.bLength < bNeeds) throw new Error(`block product ${name}: its staging holds ${st.aLength} + ${st.bLength} vec4s, it needs ${aNeeds} + ${bNeeds}`);
  const { BM, BN, BK, TM, TN } = c;
  const TX = BN / TN;
  const TY = BM / TM;
  const T = TX * TY;
  // Slices whose slots run fastest along k get one vec4 of padding per k row, so that the transposing
  // stores into workgroup memory avoid bank conflicts.
  const SA = BM / 4 + (A.along === 'k' ? 1 : 0);
  const SB = BN / 4 + (B.along === 'k' ? 1 : 0);
  const As = st.a;
  const Bs = st.b;

  const tid = b.let('tid', b.localIndex());
  const tx = b.let('tx', tid.mod(TX));
  const ty = b.let('ty', tid.div(TX));
  const rows: Ex[] = [];
  for (let g = 0; g < TM / 4; g++) for (let r = 0; r < 4; r++) rows.push(b.let(`lr${g * 4 + r}`, ty.mul(4).add(g * TY * 4 + r)));
  const cols: Ex[] = [];
  for (let h = 0; h < TN / 4; h++) for (let j = 0; j < 4; j++) cols.push(b.let(`lc${h * 4 + j}`, tx.mul(4).add(h * TX * 4 + j)));
  const accs: VarRef[][] = rows.map((_, r) => Array.from({ length: TN / 4 }, (__, h) => b.var(`acc${r}_${h}`, ZERO4)));

  const slots = (op: ProductOperand, tag: string, tileRows: number, S: number, start: Ex): Slot[] => {
    const count = (BK * tileRows) / 4 / T;
    return Array.from({ length: count }, (_, j) => {
      const s = j === 0 ? tid : tid.add(j * T);
      const kk = b.let(`${tag}_kk${j}`, op.along === 'k' ? s.mod(BK) : s.div(tileRows / 4));
      const v4 = b.let(`${tag}_v${j}`, op.along === 'k' ? s.div(BK) : s.mod(tileRows / 4));
      const first = b.let(`${tag}_i${j}`, start.add(v4.mul(4)));
      const rowsOf = op.quad ? [op.quad(first, `${tag}${j}`)]
        : [0, 1, 2, 3].map((r) => op.row!(r === 0 ? first : b.let(`${tag}_i${j}_${r}`, first.add(r)), `${tag}${j}_${r}`));
      return { kk, store: b.let(`${tag}_st${j}`, kk.mul(S).add(v4)), rows: rowsOf };
    });
  };
  const load = (slot: Slot, k0: Ex, K: Ex): Ex => {
    const k = b.let('k', k0.add(slot.kk));
    const kOk = b.let('k_ok', k.lt(K));
    if (slot.rows.length === 1) return slot.rows[0]!.ok.and(kOk).select(slot.rows[0]!.at(k), ZERO4);
    return vec('vec4<f32>', ...slot.rows.map((r) => r.ok.and(kOk).select(r.at(k), f32(0))));
  };

  return {
    config: c,
    tid,
    rows,
    cols,
    acc: (r, col) => accs[r]![Math.floor(col / 4)]!.component(col % 4),
    acc4: (r, h) => accs[r]![h]!,
    zero() {
      for (const row of accs) for (const v of row) v.set(ZERO4);
    },
    product(row0, col0, K, opts = {}) {
      const kBegin = opts.kBegin ?? i32(0);
      const aSlots = slots(A, `${name}a`, BM, SA, row0);
      const bSlots = slots(B, `${name}b`, BN, SB, col0);
      const onFirst = opts.active ? b.var(`${name}_on`, opts.active(kBegin)) : null;
      const ra = aSlots.map((_, j) => b.var(`${name}_ra${j}`, ZERO4));
      const rb = bSlots.map((_, j) => b.var(`${name}_rb${j}`, ZERO4));
      const fetch = (k0: Ex) => {
        aSlots.forEach((s, j) => ra[j]!.set(load(s, k0, K)));
        bSlots.forEach((s, j) => rb[j]!.set(load(s, k0, K)));
      };
      const stage = (offA: Ex | number, offB: Ex | number) => {
        aSlots.forEach((s, j) => As.store(s.store.add(offA), ra[j]!));
        bSlots.forEach((s, j) => Bs.store(s.store.add(offB), rb[j]!));
      };
      // Prologue: the first slice into buffer 0.
      if (onFirst) b.if(onFirst, () => fetch(kBegin));
      else fetch(kBegin);
      stage(0, 0);
      b.barrier();
      const tiles = b.let(`${name}_tiles`, K.sub(kBegin).add(BK - 1).div(BK));
      b.for(`${name}_t`, 0, tiles, (t) => {
        const cur = b.let('cur', t.bitAnd(1));
        const offA = b.let('off_a', cur.mul(BK * SA));
        const offB = b.let('off_b', cur.mul(BK * SB));
        const kNext = b.let('k_next', kBegin.add(t.add(1).mul(BK)));
        // Prefetch the next slice (past K it reads zeros, which are never used).
        const onNext = opts.active ? b.let('on_next', kNext.lt(K).and(opts.active(kNext))) : null;
        if (onNext) b.if(onNext, () => fetch(kNext));
        else fetch(kNext);
        const fma = () => {
          for (let kk = 0; kk < BK; kk++) {
            const av = Array.from({ length: TM / 4 }, (_, g) => b.let(`a${kk}_${g}`, As.at(offA.add(kk * SA + g * TY).add(ty))));
            const bv = Array.from({ length: TN / 4 }, (_, h) => b.let(`b${kk}_${h}`, Bs.at(offB.add(kk * SB + h * TX).add(tx))));
            for (let g = 0; g < TM / 4; g++) {
              for (let r = 0; r < 4; r++) {
                const a = av[g]!.component(r);
                const splat = vec('vec4<f32>', a, a, a, a);
                for (let h = 0; h < TN / 4; h++) {
                  const v = accs[g * 4 + r]![h]!;
                  v.set(v.add(splat.mul(bv[h]!)));
                }
              }
            }
          }
        };
        if (onFirst) b.if(onFirst, fma);
        else fma();
        stage(i32(BK * SA).sub(offA), i32(BK * SB).sub(offB));
        b.barrier();
        if (onFirst && onNext) onFirst.set(onNext);
      });
    },
  };
}
