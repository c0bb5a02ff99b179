// The block-product engine on subgroup matrices (tensor cores through WebGPU's experimental subgroup
// matrices). A workgroup accumulates a BM x BN block of Σ_k A(i, k) B(j, k) as in block-product.ts, but
// its subgroups hold the block as result fragments (the device's M x N subgroup-matrix tiles): a grid of
// SM x SN subgroups, each owning (BM / SM) x (BN / SN) of the block as FM x FN fragments in f32 (or f16)
// accumulators. Each k slice of A (BM rows x BK) and of B (BN rows x BK) is staged in workgroup memory in
// the operands' component type, double buffered (one barrier per slice) or, to fit larger blocks, single
// (two); either way the next slice's global loads, four consecutive elements per load, are in flight
// while the current one is multiplied. Rows of a
// staged slice are padded by 8 elements (16 bytes) so that the fragments' row loads avoid bank
// conflicts. Fragments load from the staged slice row- or column-major, as the operand was stored.
//
// Epilogues: `storeFragments` writes whole fragments straight to a buffer (blocks that lie wholly inside
// the output), `eachElement` passes every element of the block through a per-subgroup scratch array
// (any shape, any elementwise epilogue, conversion to f16). Subgroups are taken to be consecutive
// runs of local invocation indices, as on every GPU measured; the tests on the H200 check the results.
import { type BufferRef, type Ex, type KernelBuilder, type VarRef, i32, lit, vec } from '../../ir/builder.js';
import { type FloatType, type SubgroupMatrixConfig, matrixType } from '../../ir/types.js';

export interface FragmentTile {
  /** Block rows (of A) and columns (rows of B) per workgroup. */
  BM: number;
  BN: number;
  /** k slice staged per step (a multiple of the fragment's K and of 4). */
  BK: number;
  /** Subgroups along the block's rows and columns. */
  SM: number;
  SN: number;
  /** The subgroup-matrix product the fragments use (f16 components; f32 or f16 accumulators). */
  matrix: SubgroupMatrixConfig;
  /** Invocations per subgroup (the backend's largest subgroup size). */
  subgroupSize: number;
  /**
   * Staging buffers (default 2): two give one barrier per slice; one halves the workgroup memory (larger
   * blocks or slices fit) for a second barrier per slice. Either way the next slice's global loads are
   * in flight while the current one is multiplied.
   */
  stages?: 1 | 2;
}

/** Elements of padding after each row of a staged slice. */
const PAD = 8;

export const fragmentThreads = (c: FragmentTile): number => c.SM * c.SN * c.subgroupSize;
export const fragmentKey = (c: FragmentTile): string =>
  `${c.BM}x${c.BN}x${c.BK}_s${c.SM}x${c.SN}_m${c.matrix.M}x${c.matrix.N}x${c.matrix.K}${c.matrix.component}${c.matrix.result}_sg${c.subgroupSize}${c.stages === 1 ? '_1stage' : ''}`;
/** Fragments per subgroup along rows and columns. */
export const fragmentCounts = (c: FragmentTile) => ({ FM: c.BM / c.SM / c.matrix.M, FN: c.BN / c.SN / c.matrix.N });

/** Why a fragment tile is malformed, or null. */
export function fragmentTileError(c: FragmentTile): string | null {
  const { M, N, K } = c.matrix;
  const T = fragmentThreads(c);
  if (!(c.SM >= 1 && c.SN >= 1 && c.subgroupSize >= 1)) return 'SM, SN and the subgroup size must be positive';
  if (c.BM % (c.SM * M) || c.BN % (c.SN * N)) return `BM and BN must be multiples of SM x ${M} and SN x ${N} (the fragment's M and N)`;
  if (c.BK % K || c.BK % 4) return `BK must be a multiple of the fragment's K (${K}) and of 4`;
  if (((c.BM * c.BK) / 4) % T || ((c.BN * c.BK) / 4) % T) return `BM*BK/4 and BN*BK/4 must be multiples of the ${T} invocations`;
  if ((M * N) % c.subgroupSize) return `a fragment's ${M * N} elements must be a multiple of the subgroup size`;
  if (c.stages !== undefined && c.stages !== 1 && c.stages !== 2) return `stages must be 1 or 2, got ${c.stages}`;
  return null;
}

/** An operand's row (or, along 'rows', four consecutive rows), prepared once per product. */
export type FragmentRow = (k: Ex) => Ex;

export interface FragmentOperand {
  /** Which index runs fastest in memory: 'k' (stored [rows, K]) or 'rows' (stored [K, rows]). */
  along: 'k' | 'rows';
  /**
   * Prepares row i (along 'k') or rows i..i+3 (along 'rows', i a multiple of 4); the result reads four
   * consecutive elements along `along` from k (a multiple of 4 along 'k') as a vec4 of the component
   * type, zeros where they leave the operand.
   */
  prepare(i: Ex, name: string): FragmentRow;
}

export interface FragmentProduct {
  tile: FragmentTile;
  /** The subgroup's fragments: block-local first row and column, and the accumulator. */
  fragments: { row: Ex; col: Ex; acc: VarRef }[];
  /** Accumulates Σ_k A(row0 + i, k) B(col0 + j, k) over k in [0, K). */
  product(row0: Ex, col0: Ex, K: Ex): void;
  /** Writes every fragment to `to` at base + (block row) * stride + (block column). */
  storeFragments(to: BufferRef, base: (row: Ex, col: Ex) => Ex, stride: Ex): void;
  /** Calls `fn` with every element of the block (block-local row, column, value) once, in some invocation. */
  eachElement(fn: (row: Ex, col: Ex, value: Ex) => void): void;
}

/** The staging of one operand: its slice's row stride and length (elements), one buffer's worth. */
const staging = (op: FragmentOperand, rows: number, BK: number) =>
  op.along === 'k' ? { stride: BK + PAD, length: rows * (BK + PAD) } : { stride: rows + PAD, length: BK * (rows + PAD) };

/** Workgroup memory (bytes) a fragment product with these operands stages (plus `eachElement`'s scratch). */
export function fragmentWorkgroupBytes(c: FragmentTile, A: FragmentOperand, B: FragmentOperand, scratch: boolean): number {
  const elems = (c.stages ?? 2) * (staging(A, c.BM, c.BK).length + staging(B, c.BN, c.BK).length);
  return elems * 2 + (scratch ? c.SM * c.SN * c.matrix.M * c.matrix.N * (c.matrix.result === 'f16' ? 2 : 4) : 0);
}

export function createFragmentProduct(b: KernelBuilder, c: FragmentTile, A: FragmentOperand, B: FragmentOperand, name = 'fp'): FragmentProduct {
  const err = fragmentTileError(c);
  if (err) throw new Error(`fragment product ${fragmentKey(c)}: ${err}`);
  const { BM, BN, BK, SM, SN, matrix: m, subgroupSize } = c;
  const stages = c.stages ?? 2;
  const { FM, FN } = fragmentCounts(c);
  const T = fragmentThreads(c);
  const comp: FloatType = m.component;
  const sa = staging(A, BM, BK);
  const sb = staging(B, BN, BK);
  const As = b.workgroupArray(`${name}_a`, comp, stages * sa.length);
  const Bs = b.workgroupArray(`${name}_b`, comp, stages * sb.length);
  const left = matrixType('left', comp, m.K, m.M);
  const right = matrixType('right', comp, m.N, m.K);
  const result = matrixType('result', m.result, m.N, m.M);

  const tid = b.let(`${name}_tid`, b.localIndex());
  const sg = b.let(`${name}_sg`, tid.div(subgroupSize));
  const lane = b.let(`${name}_lane`, tid.mod(subgroupSize));
  const sgRow = b.let(`${name}_sgr`, sg.div(SN).mul(BM / SM));
  const sgCol = b.let(`${name}_sgc`, sg.mod(SN).mul(BN / SN));
  const fragRows = Array.from({ length: FM }, (_, i) => (i ? b.let(`${name}_fr${i}`, sgRow.add(i * m.M)) : sgRow));
  const fragCols = Array.from({ length: FN }, (_, j) => (j ? b.let(`${name}_fc${j}`, sgCol.add(j * m.N)) : sgCol));
  const zero = lit(0, m.result);
  const fragments = fragRows.flatMap((row, i) => fragCols.map((col, j) => ({ row, col, acc: b.var(`${name}_acc${i}_${j}`, b.matrixFill(result, zero)) })));

  /** The slots (four elements of a slice each) this invocation loads for one operand. */
  const slots = (op: FragmentOperand, tag: string, rows: number, stride: number, row0: Ex) =>
    Array.from({ length: (BK * rows) / 4 / T }, (_, j) => {
      const s = j === 0 ? tid : tid.add(j * T);
      // Along 'k': slot s is row s / (BK/4), elements 4 (s % (BK/4)) ...; along 'rows': k row s / (rows/4).
      const [major, minor] = op.along === 'k' ? [s.div(BK / 4), s.mod(BK / 4).mul(4)] : [s.div(rows / 4), s.mod(rows / 4).mul(4)];
      const at = b.let(`${tag}_at${j}`, major.mul(stride).add(minor));
      const row = op.prepare(b.let(`${tag}_i${j}`, row0.add(op.along === 'k' ? major : minor)), `${tag}${j}`);
      const kOff = b.let(`${tag}_k${j}`, op.along === 'k' ? minor : major);
      return { at, row, kOff };
    });

  return {
    tile: c,
    fragments,
    product(row0, col0, K) {
      const aSlots = slots(A, `${name}a`, BM, sa.stride, row0);
      const bSlots = slots(B, `${name}b`, BN, sb.stride, col0);
      const zero4 = vec(`vec4<${comp}>`, 0, 0, 0, 0);
      const ra = aSlots.map((_, j) => b.var(`${name}_ra${j}`, zero4));
      const rb = bSlots.map((_, j) => b.var(`${name}_rb${j}`, zero4));
      const fetch = (k0: Ex) => {
        aSlots.forEach((s, j) => ra[j]!.set(s.row(k0.add(s.kOff))));
        bSlots.forEach((s, j) => rb[j]!.set(s.row(k0.add(s.kOff))));
      };
      const stage = (offA: Ex | number, offB: Ex | number) => {
        const put = (arr: typeof As, at: Ex, off: Ex | number, v: VarRef) => {
          const p = b.let('p', at.add(off));
          for (let e = 0; e < 4; e++) arr.store(e ? p.add(e) : p, v.component(e));
        };
        aSlots.forEach((s, j) => put(As, s.at, offA, ra[j]!));
        bSlots.forEach((s, j) => put(Bs, s.at, offB, rb[j]!));
      };
      fetch(i32(0));
      stage(0, 0);
      b.barrier();
      const tiles = b.let(`${name}_tiles`, K.add(BK - 1).div(BK));
      b.for(`${name}_t`, 0, tiles, (t) => {
        const cur = stages === 2 ? b.let('cur', t.bitAnd(1)) : null;
        const offA = cur ? b.let('off_a', cur.mul(sa.length)) : i32(0);
        const offB = cur ? b.let('off_b', cur.mul(sb.length)) : i32(0);
        // Prefetch the next slice (past K it reads zeros, which are never used).
        fetch(b.let('k_next', t.add(1).mul(BK)));
        for (let kk = 0; kk < BK; kk += m.K) {
          // Left fragment (rows x k): staged [rows][BK+PAD] along 'k' (row-major), [BK][rows+PAD] along 'rows'.
          const ls = fragRows.map((r) => b.let(`l${kk}`, b.matrixLoad(left, As,
            A.along === 'k' ? offA.add(r.mul(sa.stride)).add(kk) : offA.add(r).add(kk * sa.stride), sa.stride, { colMajor: A.along === 'rows' })));
          // Right fragment (k x cols): staged [BK][cols+PAD] along 'rows' (row-major), [cols][BK+PAD] along 'k'.
          const rs = fragCols.map((col) => b.let(`r${kk}`, b.matrixLoad(right, Bs,
            B.along === 'rows' ? offB.add(col).add(kk * sb.stride) : offB.add(col.mul(sb.stride)).add(kk), sb.stride, { colMajor: B.along === 'k' })));
          fragments.forEach((f, n) => f.acc.set(b.matrixMultiplyAdd(ls[Math.floor(n / FN)]!, rs[n % FN]!, f.acc)));
        }
        // Two stages: the next slice goes to the other buffer. One: wait until every subgroup is done with it.
        if (stages === 1) b.barrier();
        stage(cur ? i32(sa.length).sub(offA) : 0, cur ? i32(sb.length).sub(offB) : 0);
        b.barrier();
      });
    },
    storeFragments(to, base, stride) {
      for (const f of fragments) b.matrixStore(to, base(f.row, f.col), f.acc, stride);
    },
    eachElement(fn) {
      const size = m.M * m.N;
      const scratch = b.workgroupArray(`${name}_out`, m.result, SM * SN * size);
      const own = b.let(`${name}_own`, sg.mul(size));
      for (const f of fragments) {
        b.matrixStore(scratch, own, f.acc, m.N);
        b.barrier();
        for (let e = 0; e < size / subgroupSize; e++) {
          const idx = b.let('e', e ? lane.add(e * subgroupSize) : lane);
          fn(b.let('er', f.row.add(idx.div(m.N))), b.let('ec', f.col.add(idx.mod(m.N))), scratch.at(own.add(idx)));
        }
        b.barrier();
      }
    },
  };
}
