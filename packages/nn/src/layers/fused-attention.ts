// Fused causal attention: out = softmax(q kᵀ · scale, keys after the query masked) v over q, k, v
// [B, H, T, dh], without a B x H x T x T tensor in global memory. The forward walks the keys of each
// query with an online softmax (running max and sum) and saves only each query's log-sum-exp; the
// backward recomputes the probabilities from it:
//   D_i  = Σ_c dO_ic O_ic
//   dq_i = scale Σ_{j<=i} p_ij (dO_i·v_j - D_i) k_j
//   dk_j = scale Σ_{i>=j} p_ij (dO_i·v_j - D_i) q_i,     dv_j = Σ_{i>=j} p_ij dO_i
// Three variants. 'tiles' (backends with workgroup memory, dh % 4 == 0; attention-tiles.ts): a workgroup
// per tile of rows, the other side's rows staged in workgroup memory, vec4 registers. 'rows' (backends
// that run more than map kernels): one invocation per query (or key) row holding its dh accumulators in
// registers, O(T² dh) work, reading the other rows straight from global memory; its kernels are built
// per head size, unrolled over dh. 'elements' (every backend, gpu.js included): map kernels, one
// invocation per output element, which recompute each score (O(T² dh²) work): the portable reference.
import * as C from '@cce/core';
import type { Backend, Ex, Kernel, KernelBuilder, Tensor } from '@cce/core';
import { type TileShape, dkvTiles, dqTiles, forwardTiles, tileShape, tilesGrid } from './attention-tiles.js';

export type AttentionVariant = 'auto' | 'tiles' | 'rows' | 'elements';
type Variant = Exclude<AttentionVariant, 'auto'>;

export interface CausalAttentionOptions {
  /** Multiplies q kᵀ; default 1 / sqrt(dh). */
  scale?: number;
  /** Default 'auto': tiles where the backend has them (workgroup memory, dh % 4 == 0) and does not prefer
   *  map kernels, else rows where it runs more than map kernels, else elements. */
  variant?: AttentionVariant;
  /** The tiles variant's rows per workgroup, 32 or 64; default by shape (tileShape in attention-tiles.ts). */
  tileRows?: 32 | 64;
}

interface Attrs {
  scale: number;
  variant: Variant;
  /** The tiles variant's tile shape. */
  tile: TileShape;
  /** Heads times batch, the sequence length and the head size. */
  BH: number;
  T: number;
  dh: number;
}

const WG = 64;
/** Head sizes the rows variant unrolls (its registers grow with dh). */
const MAX_ROWS_DH = 128;

/** The uniforms every elements-variant kernel takes. */
function dims(b: KernelBuilder) {
  return { T: b.uniform('T', 'i32'), dh: b.uniform('dh', 'i32'), scale: b.uniform('scale', 'f32') };
}

/** Σ_c a[aBase + c] b[bBase + c] over c < dh, as a loop (elements variant). */
function dotLoop(b: KernelBuilder, a: C.BufferRef, aBase: Ex, x: C.BufferRef, xBase: Ex, dh: Ex): Ex {
  const acc = b.var('dot', C.f32(0));
  b.for('c', 0, dh, (c) => acc.set(acc.add(a.at(aBase.add(c)).mul(x.at(xBase.add(c))))));
  return acc;
}

/** Σ_c regs[c] x[xBase + c], unrolled (rows variant). */
function dotRegs(b: KernelBuilder, regs: Ex[], x: C.BufferRef, xBase: Ex): Ex {
  const acc = b.var('dot', C.f32(0));
  regs.forEach((r, c) => acc.set(acc.add(r.mul(x.at(xBase.add(c))))));
  return acc;
}

// ---- elements variant: map kernels -------------------------------------------------------------------

/** lse[r] for row r = bh T + i: the online softmax over keys j <= i. */
const lseElements = (): Kernel => C.memoKernel('nn:attn_lse', () =>
  C.defineMapKernel('attn_lse', { workgroupSize: WG, outputType: 'f32' },
    (b) => ({ q: b.input('q', 'f32'), k: b.input('k', 'f32'), ...dims(b) }),
    ({ b, index }, { q, k, T, dh, scale }) => {
      const i = b.let('i', index.mod(T));
      const kv = b.let('kv', index.sub(i).mul(dh));
      const qBase = b.let('q_base', index.mul(dh));
      const m = b.var('m', dotLoop(b, q, qBase, k, kv, dh).mul(scale));
      const l = b.var('l', C.f32(1));
      b.for('j', 1, i.add(1), (j) => {
        const s = b.let('s', dotLoop(b, q, qBase, k, kv.add(j.mul(dh)), dh).mul(scale));
        const mNew = b.let('m_new', m.max(s));
        l.set(l.mul(m.sub(mNew).exp()).add(s.sub(mNew).exp()));
        m.set(mNew);
      });
      return m.add(l.log());
    }));

/** out[r, c] = Σ_{j<=i} exp(s_ij - lse_i) v[j, c]. */
const outElements = (): Kernel => C.memoKernel('nn:attn_out', () =>
  C.defineMapKernel('attn_out', { workgroupSize: WG, outputType: 'f32' },
    (b) => ({ q: b.input('q', 'f32'), k: b.input('k', 'f32'), v: b.input('v', 'f32'), lse: b.input('lse', 'f32'), ...dims(b) }),
    ({ b, index }, { q, k, v, lse, T, dh, scale }) => {
      const r = b.let('r', index.div(dh));
      const c = b.let('col', index.mod(dh));
      const i = b.let('i', r.mod(T));
      const kv = b.let('kv', r.sub(i).mul(dh));
      const L = b.let('L', lse.at(r));
      const acc = b.var('acc', C.f32(0));
      b.for('j', 0, i.add(1), (j) => {
        const p = b.let('p', dotLoop(b, q, r.mul(dh), k, kv.add(j.mul(dh)), dh).mul(scale).sub(L).exp());
        acc.set(acc.add(p.mul(v.at(kv.add(j.mul(dh)).add(c)))));
      });
      return acc;
    }));

/** D[r] = Σ_c dO[r, c] O[r, c] (both variants). */
const deltaKernel = (): Kernel => C.memoKernel('nn:attn_delta', () =>
  C.defineMapKernel('attn_delta', { workgroupSize: WG, outputType: 'f32' },
    (b) => ({ o: b.input('o', 'f32'), g: b.input('g', 'f32'), dh: b.uniform('dh', 'i32') }),
    ({ b, index }, { o, g, dh }) => dotLoop(b, o, index.mul(dh), g, index.mul(dh), dh)));

/**
 * One gradient element of q (`which` 'q': row i, summing keys j <= i, times k[j, c]), of k ('k': key row
 * j, summing queries i >= j, times q[i, c]) or of v ('v': key row j, p_ij dO[i, c]).
 */
const gradElements = (which: 'q' | 'k' | 'v'): Kernel => C.memoKernel(`nn:attn_d${which}`, () =>
  C.defineMapKernel(`attn_d${which}`, { workgroupSize: WG, outputType: 'f32' },
    (b) => ({
      q: b.input('q', 'f32'), k: b.input('k', 'f32'), v: b.input('v', 'f32'), g: b.input('g', 'f32'), lse: b.input('lse', 'f32'),
      delta: b.input('delta', 'f32'), ...dims(b),
    }),
    ({ b, index }, { q, k, v, g, lse, delta, T, dh, scale }) => {
      const r = b.let('r', index.div(dh));
      const c = b.let('col', index.mod(dh));
      const own = b.let('own', r.mod(T));
      const bhBase = b.let('bh_base', r.sub(own));
      const acc = b.var('acc', C.f32(0));
      // The other side's rows: keys 0..own for a query, queries own..T-1 for a key.
      const [from, to] = which === 'q' ? [C.i32(0), own.add(1)] : [own, T];
      b.for('o', from, to, (o) => {
        const qi = b.let('qi', which === 'q' ? r : bhBase.add(o));
        const kj = b.let('kj', which === 'q' ? bhBase.add(o) : r);
        const p = b.let('p', dotLoop(b, q, qi.mul(dh), k, kj.mul(dh), dh).mul(scale).sub(lse.at(qi)).exp());
        if (which === 'v') {
          acc.set(acc.add(p.mul(g.at(qi.mul(dh).add(c)))));
          return;
        }
        const ds = b.let('ds', p.mul(dotLoop(b, g, qi.mul(dh), v, kj.mul(dh), dh).sub(delta.at(qi))));
        acc.set(acc.add(ds.mul(which === 'q' ? k.at(kj.mul(dh).add(c)) : q.at(qi.mul(dh).add(c)))));
      });
      return which === 'v' ? acc : acc.mul(scale);
    }));

// ---- rows variant: one invocation per row, dh accumulators in registers ----------------------------

/** Loads row `base` of `buf` into dh registers. */
const loadRow = (b: KernelBuilder, buf: C.BufferRef, base: Ex, dh: number, name: string): Ex[] =>
  Array.from({ length: dh }, (_, c) => b.let(`${name}${c}`, buf.at(base.add(c))));

/**
 * A rows-variant kernel: f32 `inputs` and `outputs` by name, uniforms rows, T and scale, and `body` run
 * for each row r < rows (one invocation per query or key row of every batch and head).
 */
function rowKernel(name: string, dh: number, inputs: readonly string[], outputs: readonly string[],
  body: (b: KernelBuilder, buf: Record<string, C.BufferRef>, r: Ex, u: { T: Ex; scale: Ex }) => void): Kernel {
  return C.memoKernel(`nn:${name}_${dh}`, () => C.defineKernel(`${name}_d${dh}`, { workgroupSize: WG }, (b) => {
    const buf: Record<string, C.BufferRef> = {};
    for (const n of inputs) buf[n] = b.input(n, 'f32');
    for (const n of outputs) buf[n] = b.output(n, 'f32');
    const rows = b.uniform('rows', 'i32');
    const u = { T: b.uniform('T', 'i32'), scale: b.uniform('scale', 'f32') };
    b.indexBelow(rows, (r) => body(b, buf, r, u));
  }));
}

/** out and lse of query row r: the online softmax with the output accumulated alongside. */
const forwardRows = (dh: number): Kernel =>
  rowKernel('attn_fwd_rows', dh, ['q', 'k', 'v'], ['out', 'lse'], (b, { q, k, v, out, lse }, r, { T, scale }) => {
    const i = b.let('i', r.mod(T));
    const kv = b.let('kv', r.sub(i).mul(dh));
    const qr = loadRow(b, q, r.mul(dh), dh, 'q');
    // Key 0 is always visible: it starts the running max. Its weight, exp(s0 - m), is 1 for a finite s0,
    // 0 for -inf (a later finite key then takes over the max) and NaN for NaN or +inf, as in the
    // composed softmax; spelled as tests because GPU compilers fold s0 - s0 to 0.
    const m = b.var('m', dotRegs(b, qr, k, kv).mul(scale));
    const nonFinite = b.let('w_inf', m.isNan().or(m.gt(0)).select(C.runtimeNaN(b, r), C.f32(0)));
    const p0 = b.let('p0', m.isFinite().select(C.f32(1), nonFinite));
    const l = b.var('l', p0);
    const acc = Array.from({ length: dh }, (_, c) => b.var(`acc${c}`, p0.mul(v.at(kv.add(c)))));
    b.for('j', 1, i.add(1), (j) => {
      const kj = b.let('kj', kv.add(j.mul(dh)));
      const s = b.let('s', dotRegs(b, qr, k, kj).mul(scale));
      const mNew = b.let('m_new', m.max(s));
      const corr = b.let('corr', m.sub(mNew).exp());
      const p = b.let('p', s.sub(mNew).exp());
      l.set(l.mul(corr).add(p));
      acc.forEach((a, c) => a.set(a.mul(corr).add(p.mul(v.at(kj.add(c))))));
      m.set(mNew);
    });
    const inv = b.let('inv', C.f32(1).div(l));
    acc.forEach((a, c) => out.store(r.mul(dh).add(c), a.mul(inv)));
    lse.store(r, m.add(l.log()));
  });

/** dq of query row r. */
const dqRows = (dh: number): Kernel =>
  rowKernel('attn_dq_rows', dh, ['q', 'k', 'v', 'g', 'lse', 'delta'], ['out'], (b, { q, k, v, g, lse, delta, out }, r, { T, scale }) => {
    const i = b.let('i', r.mod(T));
    const kv = b.let('kv', r.sub(i).mul(dh));
    const qr = loadRow(b, q, r.mul(dh), dh, 'q');
    const gr = loadRow(b, g, r.mul(dh), dh, 'g');
    const L = b.let('L', lse.at(r));
    const Dr = b.let('D', delta.at(r));
    const acc = Array.from({ length: dh }, (_, c) => b.var(`acc${c}`, C.f32(0)));
    b.for('j', 0, i.add(1), (j) => {
      const kj = b.let('kj', kv.add(j.mul(dh)));
      const p = b.let('p', dotRegs(b, qr, k, kj).mul(scale).sub(L).exp());
      const ds = b.let('ds', p.mul(dotRegs(b, gr, v, kj).sub(Dr)));
      acc.forEach((a, c) => a.set(a.add(ds.mul(k.at(kj.add(c))))));
    });
    acc.forEach((a, c) => out.store(r.mul(dh).add(c), a.mul(scale)));
  });

/** dk and dv of key row r. */
const dkvRows = (dh: number): Kernel =>
  rowKernel('attn_dkv_rows', dh, ['q', 'k', 'v', 'g', 'lse', 'delta'], ['dk', 'dv'], (b, { q, k, v, g, lse, delta, dk, dv }, r, { T, scale }) => {
    const j = b.let('j', r.mod(T));
    const bhRow = b.let('bh_row', r.sub(j));
    const kr = loadRow(b, k, r.mul(dh), dh, 'k');
    const vr = loadRow(b, v, r.mul(dh), dh, 'v');
    const accK = Array.from({ length: dh }, (_, c) => b.var(`acck${c}`, C.f32(0)));
    const accV = Array.from({ length: dh }, (_, c) => b.var(`accv${c}`, C.f32(0)));
    b.for('i', j, T, (i) => {
      const qi = b.let('qi', bhRow.add(i));
      const p = b.let('p', dotRegs(b, kr, q, qi.mul(dh)).mul(scale).sub(lse.at(qi)).exp());
      const ds = b.let('ds', p.mul(dotRegs(b, vr, g, qi.mul(dh)).sub(delta.at(qi))));
      accV.forEach((a, c) => a.set(a.add(p.mul(g.at(qi.mul(dh).add(c))))));
      accK.forEach((a, c) => a.set(a.add(ds.mul(q.at(qi.mul(dh).add(c))))));
    });
    accK.forEach((a, c) => dk.store(r.mul(dh).add(c), a.mul(scale)));
    accV.forEach((a, c) => dv.store(r.mul(dh).add(c), a));
  });

// ---- the op -----------------------------------------------------------------------------------------

function dispatchRows(kernel: Kernel, rows: number, buffers: Record<string, C.BufferArg>, u: Record<string, number>, be: C.Backend): void {
  if (rows === 0) return;
  C.dispatchKernel(be, kernel, buffers, { ...u, rows }, C.grid1d(rows, WG, be.capabilities.limits.maxWorkgroupsPerDimension));
}

const attentionOp = C.defineFusedOp<Attrs>({
  name: 'causalAttention',
  forward([q, k, v], { scale, variant, tile, BH, T, dh }) {
    const be = q!.backend;
    const rows = BH * T;
    const lse = C.Tensor.empty([BH, T], 'f32', be, 'causalAttention');
    const out = C.Tensor.empty(q!.shape, 'f32', be, 'causalAttention');
    if (variant === 'tiles') {
      if (rows > 0) C.dispatchKernel(be, forwardTiles(dh, tile), { q: q!, k: k!, v: v!, out, lse }, { T, scale }, tilesGrid(BH, T, tile));
    } else if (variant === 'rows') {
      dispatchRows(forwardRows(dh), rows, { q: q!, k: k!, v: v!, out, lse }, { T, scale }, be);
    } else {
      C.runMap(lseElements(), lse, { q: q!, k: k! }, { T, dh, scale });
      C.runMap(outElements(), out, { q: q!, k: k!, v: v!, lse }, { T, dh, scale });
    }
    return { output: out, saved: [lse] };
  },
  backward(g, { inputs: [q, k, v], output, saved: [lse], attrs: { scale, variant, tile, BH, T, dh } }) {
    const be = g.backend;
    const rows = BH * T;
    const delta = C.runMap(deltaKernel(), C.Tensor.empty([BH, T], 'f32', be, 'causalAttention backward'), { o: output, g }, { dh });
    const empty = () => C.Tensor.empty(q!.shape, 'f32', be, 'causalAttention backward');
    const ins = { q: q!, k: k!, v: v!, g, lse: lse!, delta };
    if (variant !== 'elements') {
      const dq = empty();
      const dk = empty();
      const dv = empty();
      if (variant === 'tiles' && rows > 0) {
        // The accumulate products read their rows as vec4s: the same tensor bound a second time.
        C.dispatchKernel(be, dqTiles(dh, tile), { ...ins, k4: k!, out: dq }, { T, scale }, tilesGrid(BH, T, tile));
        C.dispatchKernel(be, dkvTiles(dh, tile, 'k'), { ...ins, q4: q!, out: dk }, { T, scale }, tilesGrid(BH, T, tile));
        C.dispatchKernel(be, dkvTiles(dh, tile, 'v'), { q: q!, k: k!, lse: lse!, g4: g, out: dv }, { T, scale }, tilesGrid(BH, T, tile));
      } else if (variant === 'rows') {
        dispatchRows(dqRows(dh), rows, { ...ins, out: dq }, { T, scale }, be);
        dispatchRows(dkvRows(dh), rows, { ...ins, dk, dv }, { T, scale }, be);
      }
      return [dq, dk, dv];
    }
    return (['q', 'k', 'v'] as const).map((w) => C.runMap(gradElements(w), empty(), ins, { T, dh, scale }));
  },
});

const shapeOf = (t: Tensor) => `[${t.shape.join(', ')}]`;

/**
 * Causal self-attention of q, k, v [B, H, T, dh] (f32, one backend): softmax(q kᵀ · scale) v with each
 * query attending to itself and the keys before it. Differentiable in q, k and v.
 */
export function causalAttention(q: Tensor, k: Tensor, v: Tensor, opts: CausalAttentionOptions = {}): Tensor {
  const fail = (why: string): never => {
    throw new Error(`causalAttention: ${why}`);
  };
  for (const [name, t] of [['q', q], ['k', k], ['v', v]] as const) {
    if (!(t instanceof C.Tensor)) fail(`${name} must be a tensor`);
    if (t.rank !== 4) fail(`${name} must be [B, H, T, dh], got ${shapeOf(t)}`);
    if (t.dtype !== 'f32') fail(`${name} must be f32, got ${t.dtype}`);
  }
  if (shapeOf(k) !== shapeOf(q) || shapeOf(v) !== shapeOf(q)) fail(`q, k and v must have one shape, got q ${shapeOf(q)}, k ${shapeOf(k)}, v ${shapeOf(v)}`);
  if (k.backend !== q.backend || v.backend !== q.backend) fail(`q, k and v must live on one backend, got '${q.backend.name}', '${k.backend.name}', '${v.backend.name}'`);
  const [B, H, T, dh] = q.shape as [number, number, number, number];
  const scale = opts.scale ?? 1 / Math.sqrt(dh || 1);
  if (!(typeof scale === 'number' && Number.isFinite(scale))) fail(`scale must be a finite number, got ${scale}`);
  const requested = opts.variant ?? 'auto';
  if (!['auto', 'tiles', 'rows', 'elements'].includes(requested)) fail(`unknown variant '${requested}' (auto, tiles, rows or elements)`);
  if (opts.tileRows !== undefined && opts.tileRows !== 32 && opts.tileRows !== 64) fail(`tileRows must be 32 or 64, got ${opts.tileRows}`);
  const tiles = tilesFor(q.backend, B * H, T, dh, opts.tileRows);
  const why = { tiles: typeof tiles === 'string' ? tiles : null, rows: rowsUnavailable(q.backend, dh), elements: null };
  if (requested !== 'auto' && why[requested]) fail(`the ${requested} variant ${why[requested]}`);
  // A backend that prefers map kernels (the CPU interpreter, where workgroup tiles only cost) skips tiles.
  const order = q.backend.capabilities.prefersMapKernels ? ['rows', 'elements'] as const : ['tiles', 'rows', 'elements'] as const;
  const variant = requested !== 'auto' ? requested : order.find((v) => !why[v])!;
  if (opts.tileRows !== undefined && variant !== 'tiles') fail(`tileRows is an option of the tiles variant, not of ${variant}`);
  const tile = typeof tiles === 'string' ? { rows: 0 } : tiles;
  return attentionOp([q, k, v], { scale, variant, tile, BH: B * H, T, dh });
}

/** Why the rows variant cannot run, or null. */
function rowsUnavailable(be: Backend, dh: number): string | null {
  if (be.capabilities.mapOnly) return `is not a map kernel; backend '${be.name}' runs map kernels only`;
  if (dh > MAX_ROWS_DH) return `unrolls at most dh ${MAX_ROWS_DH}, got ${dh}`;
  return null;
}

/**
 * The tiles variant's shape for BH heads of T rows of size dh (`rows` a workgroup when given, else by
 * shape, falling back to 32 rows where 64 do not fit the backend's limits), or why it cannot run.
 */
function tilesFor(be: Backend, BH: number, T: number, dh: number, rows?: 32 | 64): TileShape | string {
  const caps = be.capabilities;
  if (caps.mapOnly || !caps.features.has('workgroupMemory')) return `needs workgroup memory; backend '${be.name}' has none`;
  if (dh % 4 !== 0 || dh > MAX_ROWS_DH) return `reads rows as vec4s: dh must be a multiple of 4 up to ${MAX_ROWS_DH}, got ${dh}`;
  if (BH > caps.limits.maxWorkgroupsPerDimension) return `runs one workgroup row per batch and head: ${BH} exceeds backend '${be.name}''s ${caps.limits.maxWorkgroupsPerDimension}`;
  const preferred = tileShape(BH, T, rows);
  const shapes = rows || preferred.rows === 32 ? [preferred] : [preferred, { rows: 32 }];
  const fits = (tile: TileShape) => [forwardTiles(dh, tile), dqTiles(dh, tile), dkvTiles(dh, tile, 'k'), dkvTiles(dh, tile, 'v')].every((k) => C.kernelFits(be, k));
  return shapes.find(fits) ?? `at ${preferred.rows} rows a workgroup and dh ${dh} needs more than backend '${be.name}''s limits allow (${caps.limits.maxWorkgroupStorageSize} bytes of workgroup memory, ${caps.limits.maxInvocationsPerWorkgroup} invocations a workgroup)`;
}
