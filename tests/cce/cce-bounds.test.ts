// Block bounds (kernels/tiled-forward.ts, tiled-backward.ts): the bounded forward's per-block logit maxima against a host
// computation in f64, and the bounded gradient-block kernel against the unbounded one: the same filter
// mask, the same terms in kept blocks, zeros in skipped blocks (whose terms are all below eps), and on
// peaky data some blocks really skipped. On the f32 reference and on webgpu (lavapipe in CI), at odd sizes.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as C from '@cce/core';
import { peakyCceData, randomCceData } from '@cce/cce';
import { BOUND_KEEP } from '../../packages/cce/src/kernels/common.js';
import { tiledGradBlockKernel } from '../../packages/cce/src/kernels/tiled-backward.js';
import { tiledLseKernel } from '../../packages/cce/src/kernels/tiled-forward.js';
import { BLOCK_SHAPES } from '../../packages/cce/src/kernels/block-shapes.js';
import { FILTER_TILE } from '../../packages/cce/src/kernels/common.js';
import { requireBackend, webgpuAvailable } from '../webgpu/support.js';

const FLAGS = { bias: true, softcap: false, smoothing: false, zLoss: true };
const Z_LOSS = 1e-3;
const EPS = 2 ** -12;
const IGNORED = -2;

interface Problem {
  N: number; D: number; V: number;
  e: Float32Array; c: Float32Array; bias: Float32Array;
  perm: Int32Array; tgt: Int32Array;
  /** Logits y[i, j] of token i and sorted position j (entry perm[j]), in f64. */
  y: Float64Array;
  lse: Float64Array;
}

function makeProblem(kind: 'random' | 'peaky', N: number, D: number, V: number, seed: number): Problem {
  const data = kind === 'peaky' ? peakyCceData(N, D, V, seed) : randomCceData(N, D, V, seed);
  const rng = C.mulberry32(seed + 1);
  const bias = Float32Array.from({ length: V }, () => (rng() - 0.5) * 0.4);
  const logit = (i: number, v: number) => {
    let s = bias[v]!;
    for (let k = 0; k < D; k++) s += data.e[i * D + k]! * data.c[v * D + k]!;
    return s;
  };
  // Sorted by mean logit, as the op orders a block; every 9th token ignored.
  const mean = Array.from({ length: V }, (_, v) => { let s = 0; for (let i = 0; i < N; i++) s += logit(i, v); return s; });
  const perm = Int32Array.from(Array.from({ length: V }, (_, v) => v).sort((a, b) => mean[b]! - mean[a]!));
  const tgt = Int32Array.from(data.targets, (t, i) => (i % 9 === 4 ? IGNORED : t));
  const y = new Float64Array(N * V);
  const lse = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    let m = -Infinity;
    for (let j = 0; j < V; j++) { y[i * V + j] = logit(i, perm[j]!); m = Math.max(m, y[i * V + j]!); }
    let s = 0;
    for (let j = 0; j < V; j++) s += Math.exp(y[i * V + j]! - m);
    lse[i] = m + Math.log(s);
  }
  return { N, D, V, e: data.e, c: data.c, bias, perm, tgt, y, lse };
}

function boundSuite(name: string, getBackend: () => Promise<C.Backend>, shapes: string[]) {
  const s = suite(name);
  for (const shapeName of shapes) {
    const shape = BLOCK_SHAPES[shapeName]!;
    const T = shape.BM;
    for (const kind of ['random', 'peaky'] as const) {
      s(`block shape ${shapeName}, ${kind} data: bounded forward maxima and bounded gradient blocks`, async () => {
        const backend = await getBackend();
        const [N, D, V] = [T + 37, 29, 3 * T + 45];
        const p = makeProblem(kind, N, D, V, 11);
        await C.scope(async () => {
          const up = (x: Float32Array | Int32Array, dtype: 'f32' | 'i32' = 'f32') => C.tensor(x, [x.length], { backend, dtype });
          const [e, c, bias, perm, tgt] = [up(p.e), up(p.c), up(p.bias), up(p.perm, 'i32'), up(p.tgt, 'i32')];
          const rowsB = Math.ceil(N / T);
          const cols = Math.ceil(V / T);
          // Two splits of whole blocks, the last one short.
          const Vs = 2 * T;
          const S = Math.ceil(V / Vs);
          const part = C.Tensor.empty([S * N], 'f32', backend);
          const tmax = C.full([rowsB * cols], BOUND_KEEP, { backend });
          C.dispatchKernel(backend, tiledLseKernel(FLAGS, true, shape), { e, c, bias, perm, tgt, out: part, tmax }, { D, N, V, Vs }, [rowsB, S, 1]);
          const bounds = await tmax.read();
          for (let rb = 0; rb < rowsB; rb++) {
            for (let cb = 0; cb < cols; cb++) {
              let want = -Infinity;
              for (let i = rb * T; i < Math.min(N, rb * T + T); i++) {
                for (let j = cb * T; j < Math.min(V, cb * T + T); j++) want = Math.max(want, p.perm[j] === p.tgt[i] ? BOUND_KEEP : p.y[i * V + j]!);
              }
              const got = bounds[rb * cols + cb]!;
              assert.ok(Math.abs(got - want) <= 1e-5 * Math.max(1, Math.abs(want)), `block (${rb}, ${cb}): bound ${got}, want ${want}`);
            }
          }
          const parts = await part.read();
          for (let i = 0; i < N; i++) {
            let l = -Infinity;
            for (let sp = 0; sp < S; sp++) l = Math.max(l, parts[sp * N + i]!);
            let sum = 0;
            for (let sp = 0; sp < S; sp++) sum += Math.exp(parts[sp * N + i]! - l);
            assert.ok(Math.abs(l + Math.log(sum) - p.lse[i]!) < 1e-4, `lse of token ${i}`);
          }

          // The gradient block of the chunk [T, V): bounded against unbounded, same inputs.
          const lse = up(Float32Array.from(p.lse));
          const v0 = T;
          const Vc = V - T;
          const grid: C.Grid = [Math.ceil(Vc / T), rowsB, 1];
          const run = (bounded: boolean) => {
            const h = C.Tensor.empty([N * Vc], 'f32', backend);
            const mask = C.Tensor.empty([Math.ceil(N / FILTER_TILE) * Math.ceil(Vc / FILTER_TILE)], 'i32', backend);
            C.dispatchKernel(backend, tiledGradBlockKernel(FLAGS, bounded ? T : 0, shape), { e, c, bias, perm, lse, tgt, h, mask, ...(bounded ? { tmax } : {}) },
              { D, N, V, v0, Vc, ignore: IGNORED, eps: EPS, z_loss: Z_LOSS, ...(bounded ? { bound_cols: cols, bound_row0: 0 } : {}) }, grid);
            return Promise.all([h.read(), mask.read()]);
          };
          const [[hb, mb], [hu, mu]] = [await run(true), await run(false)];
          assert.equal(Array.from(mb), Array.from(mu), 'filter masks');
          let skipped = 0;
          for (let rb = 0; rb < rowsB; rb++) {
            for (let cb = 0; cb < grid[0]; cb++) {
              let allZero = true;
              let worst = 0;
              let diff = 0;
              for (let i = rb * T; i < Math.min(N, rb * T + T); i++) {
                for (let j = cb * T; j < Math.min(Vc, cb * T + T); j++) {
                  const k = i * Vc + j;
                  if (hb[k] !== 0) allZero = false;
                  worst = Math.max(worst, Math.abs(hu[k]!));
                  diff = Math.max(diff, Math.abs(hb[k]! - hu[k]!));
                }
              }
              if (allZero && worst > 0) {
                skipped++;
                assert.ok(worst < EPS, `skipped block (${rb}, ${cb}) has a term ${worst} >= eps`);
              } else {
                assert.ok(diff === 0, `kept block (${rb}, ${cb}) differs by ${diff}`);
              }
            }
          }
          if (kind === 'peaky') assert.ok(skipped > 0, 'peaky data: no block skipped by its bound');
          console.log(`    ${shapeName} ${kind}: ${skipped} of ${rowsB * grid[0]} blocks skipped by their bounds`);
        });
      });
    }
  }
  s.run();
}

// The interpreter runs barriers in lockstep, slowly: one shape there; every shape on webgpu.
boundSuite('cce: block bounds on the reference', async () => new C.CpuBackend({ precision: 'f32', subgroupSize: 8 }), ['64/4x4']);
if (await webgpuAvailable('cce bounds')) boundSuite('cce: block bounds on webgpu', requireBackend, ['64/4x4', '64/8x8', '128/8x8']);
