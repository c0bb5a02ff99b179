// Benchmark: causal attention composed from core ops (CausalSelfAttention's core: q kᵀ by matmul transB,
// mulScalar, + the cached -inf mask, softmax, matmul by v; a [B, H, T, T] scores tensor in memory) against
// the fused causalAttention of @cce/nn (online softmax, no T x T tensor), forward and forward+backward:
// median ms over reps (one flush per rep), peak memory beyond what is live at the pass's start, dispatches
// per pass (backends with a profiler: webgpu), and the largest |fused - composed| of out and of dq, dk, dv.
//   node scripts/run-ts.mjs bench/attention.ts [--shape B,H,T,dh] [--reps N] [--backend NAME] [--methods M,..] [--json]
// bench/torch_attention.py prints the same columns for PyTorch's scaled_dot_product_attention.
import * as C from '@cce/core';
import type { Backend, Tensor } from '@cce/core';
import { type AttentionVariant, causalAttention, causalMask } from '@cce/nn';
import { loadBackends } from '../examples/backends.js';

const DEFAULT_SHAPES: [number, number, number, number][] = [[16, 4, 128, 64], [8, 12, 1024, 64]];
/** The composed path and the fused op's variants. */
const METHODS = ['composed', 'tiles', 'rows', 'elements'] as const;
type Method = (typeof METHODS)[number];

const args = await C.parseCli({
  command: 'bench/attention.ts',
  summary: 'Causal attention composed from core ops (matmul transB, mulScalar, + mask, softmax, matmul) against the fused ' +
    'causalAttention: forward and forward+backward median ms, peak extra memory, dispatches per pass and the largest ' +
    'difference between the two outputs (and gradients). Prints a markdown table.',
  flags: {
    shape: { type: 'list', of: 'integer', length: 4, min: 1, placeholder: 'B,H,T,dh', description: 'batch, heads, sequence length and head size of the one shape to run',
      defaultText: '16,4,128,64 and 8,12,1024,64' },
    reps: { type: 'integer', min: 1, default: 5, placeholder: 'N', description: 'timed passes after one warm-up pass (median reported)' },
    // The composed path last: its B x H x T x T tensors can fill the buffer pool, and buffers released
    // past the pool's cap are destroyed, so whatever runs after it allocates afresh on every pass.
    methods: { type: 'list', of: 'string', choices: METHODS, default: ['tiles', 'rows', 'composed'], placeholder: 'METHODS',
      description: "what to time, in this order: the composed path and the fused op's variants" },
    'tile-rows': { type: 'enum', choices: ['32', '64'], placeholder: 'ROWS', description: "the tiles variant's rows per workgroup",
      defaultText: 'by shape: 64 where that still makes 1024 workgroups, else 32' },
    force: { type: 'boolean', description: 'run the default shapes even on a CPU backend or a software adapter (slow)' },
    seed: { type: 'integer', min: 0, default: 1, description: 'seed of q, k, v and the output gradient' },
    backend: C.commonFlags.backend,
    json: C.commonFlags.json,
    verbose: C.commonFlags.verbose,
  },
  notes: ['examples:\n  node scripts/run-ts.mjs bench/attention.ts --backend cpu --shape 1,1,8,4 --reps 2\n' +
    '  node scripts/run-ts.mjs bench/attention.ts --backend webgpu --shape 1,2,64,16\n  node scripts/run-ts.mjs bench/attention.ts --backend webgpu --json'],
});
const log = C.cliLog(args.json);
const MiB = 2 ** 20;

export interface Row {
  backend: string;
  B: number;
  H: number;
  T: number;
  dh: number;
  method: Method;
  runnable: boolean;
  note?: string;
  forwardMs?: number;
  forwardBackwardMs?: number;
  /** Peak bytes beyond those live at the pass's start (forward+backward: includes dq, dk, dv themselves). */
  forwardPeakExtraBytes?: number;
  forwardBackwardPeakExtraBytes?: number;
  forwardDispatches?: number | null;
  forwardBackwardDispatches?: number | null;
  /** GPU ms by kernel of one forward+backward pass, each dispatch timed alone (backends with a profiler). */
  kernelMs?: Record<string, number>;
  /** max |this - composed| over out. */
  maxAbsDiffOut?: number;
  /** max |fused - composed| over dq, dk and dv. */
  maxAbsDiffGrad?: number;
}

/** 512 B, 1.50 KiB, 402.00 MiB. */
const bytes = (b?: number) => (b === undefined ? '' : Math.abs(b) < 1024 ? `${b} B` : Math.abs(b) < MiB ? `${(b / 1024).toFixed(2)} KiB` : `${(b / MiB).toFixed(2)} MiB`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** CausalSelfAttention's core, on q, k, v [B, H, T, dh]. */
function composed(q: Tensor, k: Tensor, v: Tensor): Tensor {
  const T = q.shape[2]!, dh = q.shape[3]!;
  const scores = C.add(C.mulScalar(C.matmul(q, k, { transB: true }), 1 / Math.sqrt(dh)), causalMask(T, q.backend));
  return C.matmul(C.softmax(scores, -1), v);
}
const tileRows = args['tile-rows'] ? (Number(args['tile-rows']) as 32 | 64) : undefined;
const attention = (m: Method) => (m === 'composed' ? composed
  : (q: Tensor, k: Tensor, v: Tensor) => causalAttention(q, k, v, { variant: m as AttentionVariant, ...(m === 'tiles' && tileRows ? { tileRows } : {}) }));

interface Inputs { q: Tensor; k: Tensor; v: Tensor; g: Tensor }
const clearGrads = (x: Inputs) => { for (const t of [x.q, x.k, x.v]) { t.grad?.dispose(); t.grad = null; } };

/** One pass: forward only (no tape), or forward and backward of the output gradient g. */
const pass = (m: Method, x: Inputs, backward: boolean) => () => {
  if (!backward) return void C.noGrad(() => attention(m)(x.q, x.k, x.v));
  C.backward(attention(m)(x.q, x.k, x.v), x.g);
};

/** Wall ms of fn and its device work (one flush at the end). */
async function timeIt(backend: Backend, fn: () => void): Promise<number> {
  await backend.flush();
  const t0 = performance.now();
  await C.scope(async () => {
    fn();
    await backend.flush();
  });
  return performance.now() - t0;
}

/** Peak bytes beyond those live at the start of one pass. */
async function peakOf(backend: Backend, fn: () => void): Promise<number> {
  await backend.flush();
  const before = backend.memory().bytesInUse;
  backend.resetPeak();
  await C.scope(async () => {
    fn();
    await backend.flush();
  });
  return backend.memory().peakBytes - before;
}

type Profiling = Backend & { startProfiling?: () => unknown; stopProfiling?: () => Promise<{ rows(): { kernel: string; dispatches: number; totalMs: number }[] }> };
/** Dispatches and GPU ms by kernel of one pass, or null without a profiler. */
async function profileOf(backend: Backend, fn: () => void): Promise<{ dispatches: number; kernelMs: Record<string, number> } | null> {
  const prof = backend as Profiling;
  if (!prof.startProfiling || !prof.stopProfiling) return null;
  await backend.flush();
  prof.startProfiling();
  await C.scope(async () => {
    fn();
    await backend.flush();
  });
  const rows = (await prof.stopProfiling()).rows();
  return { dispatches: rows.reduce((s, r) => s + r.dispatches, 0), kernelMs: Object.fromEntries(rows.map((r) => [r.kernel, r.totalMs])) };
}

/** out, dq, dk, dv of one pass, on the host. */
async function valuesOf(m: Method, x: Inputs): Promise<Float32Array[]> {
  const out = await C.scope(async () => {
    const y = attention(m)(x.q, x.k, x.v);
    C.backward(y, x.g);
    return Float32Array.from(await y.read());
  });
  const grads = await Promise.all([x.q, x.k, x.v].map(async (t) => Float32Array.from(await t.grad!.read())));
  clearGrads(x);
  return [out, ...grads];
}

const maxAbsDiff = (a: Float32Array[], b: Float32Array[]) => {
  let d = 0;
  a.forEach((x, k) => x.forEach((v, i) => { d = Math.max(d, Math.abs(v - b[k]![i]!)); }));
  return d;
};

async function benchShape(backend: Backend, [B, H, T, dh]: [number, number, number, number]): Promise<Row[]> {
  log(`${backend.name}: B=${B} H=${H} T=${T} dh=${dh}`);
  const n = B * H * T * dh;
  const rng = C.mulberry32(args.seed);
  const host = () => Float32Array.from({ length: n }, () => rng() * 2 - 1);
  const shape = [B, H, T, dh];
  const x: Inputs = {
    q: C.keep(C.tensor(host(), shape, { backend })), k: C.keep(C.tensor(host(), shape, { backend })),
    v: C.keep(C.tensor(host(), shape, { backend })), g: C.keep(C.tensor(host(), shape, { backend })),
  };
  x.q.requiresGrad = x.k.requiresGrad = x.v.requiresGrad = true;
  const rows: Row[] = [];
  const values = new Map<Method, Float32Array[]>();
  const scoresBytes = B * H * T * T * 4;
  const binding = backend.capabilities.limits.maxStorageBufferBindingSize;
  for (const method of args.methods as Method[]) {
    const row: Row = { backend: backend.name, B, H, T, dh, method, runnable: true };
    rows.push(row);
    if (method === 'composed' && scoresBytes > binding) {
      row.runnable = false;
      row.note = `scores [${B}, ${H}, ${T}, ${T}] need ${(scoresBytes / MiB).toFixed(0)} MiB; the largest storage binding is ${(binding / MiB).toFixed(0)} MiB`;
      log(`  ${method}: not runnable: ${row.note}`);
      continue;
    }
    try {
      const fwd: number[] = [];
      const fb: number[] = [];
      for (let r = 0; r <= args.reps; r++) { // r = 0 warms up (pipeline compilation, the cached mask)
        const tf = await timeIt(backend, pass(method, x, false));
        const tb = await timeIt(backend, pass(method, x, true));
        clearGrads(x);
        if (r > 0) { fwd.push(tf); fb.push(tb); }
      }
      row.forwardMs = median(fwd);
      row.forwardBackwardMs = median(fb);
      row.forwardPeakExtraBytes = await peakOf(backend, pass(method, x, false));
      row.forwardBackwardPeakExtraBytes = await peakOf(backend, pass(method, x, true));
      clearGrads(x);
      row.forwardDispatches = (await profileOf(backend, pass(method, x, false)))?.dispatches ?? null;
      const profile = await profileOf(backend, pass(method, x, true));
      row.forwardBackwardDispatches = profile?.dispatches ?? null;
      if (profile) row.kernelMs = profile.kernelMs;
      clearGrads(x);
      values.set(method, await valuesOf(method, x));
      log(`  ${row.method.padEnd(16)} fwd ${row.forwardMs.toFixed(2)} ms  fwd+bwd ${row.forwardBackwardMs.toFixed(2)} ms  ` +
        `peak extra ${bytes(row.forwardPeakExtraBytes)} / ${bytes(row.forwardBackwardPeakExtraBytes)}` +
        (row.forwardDispatches !== null ? `  dispatches ${row.forwardDispatches} / ${row.forwardBackwardDispatches}` : '') +
        (row.kernelMs ? `\n    GPU ms by kernel (fwd+bwd): ${Object.entries(row.kernelMs).sort((a, b) => b[1] - a[1]).map(([k, ms]) => `${k} ${ms.toFixed(3)}`).join(', ')}` : ''));
    } catch (err) {
      clearGrads(x);
      row.runnable = false;
      row.note = (err as Error).message.split('\n')[0];
      log(`  ${method}: failed: ${row.note}`);
    }
  }
  const ref = values.get('composed');
  for (const row of rows) {
    const mine = values.get(row.method);
    if (!ref || !mine) continue;
    row.maxAbsDiffOut = maxAbsDiff([mine[0]!], [ref[0]!]);
    row.maxAbsDiffGrad = maxAbsDiff(mine.slice(1), ref.slice(1));
  }
  for (const t of Object.values(x)) t.dispose();
  clearGrads(x);
  return rows;
}

function table(rows: Row[]): string {
  const head = ['backend', 'B', 'H', 'T', 'dh', 'method', 'fwd ms', 'fwd+bwd ms', 'fwd peak extra', 'fwd+bwd peak extra', 'fwd dispatches', 'fwd+bwd dispatches', 'max abs Δ out', 'max abs Δ dq,dk,dv'];
  const body = rows.map((r) => [
    r.backend, String(r.B), String(r.H), String(r.T), String(r.dh), r.method,
    r.forwardMs?.toFixed(2) ?? (r.runnable ? '' : 'n/a'), r.forwardBackwardMs?.toFixed(2) ?? (r.runnable ? '' : 'n/a'),
    bytes(r.forwardPeakExtraBytes), bytes(r.forwardBackwardPeakExtraBytes),
    r.forwardDispatches === null ? '-' : String(r.forwardDispatches ?? ''), r.forwardBackwardDispatches === null ? '-' : String(r.forwardBackwardDispatches ?? ''),
    r.maxAbsDiffOut?.toExponential(2) ?? '', r.maxAbsDiffGrad?.toExponential(2) ?? '',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const notes = rows.filter((r) => r.note).map((r) => `- ${r.backend} [${r.B},${r.H},${r.T},${r.dh}] ${r.method}: ${r.note}`);
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line), ...(notes.length ? ['', ...notes] : [])].join('\n');
}

await loadBackends();
const backend: Backend = await C.cliBackend(args.backend, { log, verbose: args.verbose });
C.setBackend(backend);
const shapes: [number, number, number, number][] = args.shape ? [args.shape as [number, number, number, number]] : DEFAULT_SHAPES;
const slow = backend.name.startsWith('cpu') || backend.name === 'gpujs:cpu' || backend.name === 'gpujs:webasm' || C.isSoftwareAdapter({ text: backend.description });
if (!args.shape && !args.force && slow) {
  backend.destroy();
  C.exitWithError(`the default shapes (16,4,128,64 and 8,12,1024,64) would take very long on ${backend.name} (${C.backendSummary(backend)}); ` +
    'pass --shape B,H,T,dh for one small shape, or --force to run them anyway');
}
const rows: Row[] = [];
for (const shape of shapes) rows.push(...await benchShape(backend, shape));
if (args.json) process.stdout.write(`${JSON.stringify({ date: new Date().toISOString(), backend: backend.name, description: backend.description, reps: args.reps, rows })}\n`);
else log(`\n${table(rows)}`);
backend.destroy();
