// Benchmark: one GPT training step (forward, CCE loss, backward, AdamW with clipping) at a preset's size,
// on random ids: the wall time per step in a run of steps (one read at the end, as `pnpm train` reads only
// at its logging steps), the host's share (time to enqueue a step's work), the dispatches per step, the
// step's peak memory beyond what is live at its start (parameters, gradients, AdamW state) beside the
// pool's bytes, and a per-kernel GPU profile of one step (webgpu's timestamp profiler).
//   node scripts/run-ts.mjs bench/train-step.ts [--config tiny] [--backend NAME] [--steps N] [--json]
import * as C from '@cce/core';
import type { Backend } from '@cce/core';
import { AdamW, GPT, GPT_PRESETS, type GPTPresetName, gptConfig, gptParameterCount } from '@cce/nn';
import { loadBackends } from '../examples/backends.js';

const args = await C.parseCli({
  command: 'bench/train-step.ts',
  summary: 'Time one GPT training step (forward, CCE, backward, AdamW with clipping) on random ids: ms per step, host ms per step, ' +
    'dispatches, peak step memory beyond the live state, and a per-kernel GPU profile of one step.',
  flags: {
    config: { type: 'enum', choices: Object.keys(GPT_PRESETS) as GPTPresetName[], default: 'tiny', description: 'model size' },
    vocab: { type: 'integer', min: 1, default: 50257, description: "the tokenizer's vocabulary (padded to a multiple of 64: GPT-2's BPE gives 50304)" },
    batch: { type: 'integer', min: 1, defaultText: "the config's", description: 'windows per step' },
    scratch: { type: 'number', min: 0, minExclusive: true, placeholder: 'MiB', defaultText: "the GPT's (16 MiB)", description: "CCE's backward scratch block" },
    attention: { type: 'enum', choices: ['composed', 'fused'], default: 'fused', description: "the model's attention" },
    'sort-vocab': { type: 'enum', choices: ['on', 'off'], default: 'off', description: "CCE's vocabulary sort (so skippable entries share tiles)" },
    steps: { type: 'integer', min: 1, default: 30, placeholder: 'N', description: 'timed steps (after 5 warm-up steps)' },
    backend: C.commonFlags.backend,
    json: C.commonFlags.json,
    verbose: C.commonFlags.verbose,
  },
});
const log = C.cliLog(args.json);
await loadBackends();
const backend: Backend = await C.cliBackend(args.backend, { log, verbose: args.verbose });
C.setBackend(backend);
const cfg = gptConfig(args.config, args.vocab, { attention: args.attention });
const B = args.batch ?? cfg.batchSize;
const T = cfg.contextLength;
const model = new GPT(cfg, { seed: 1, backend, loss: { ...(args.scratch ? { scratchBytes: Math.round(args.scratch * 2 ** 20) } : {}), sortVocab: args['sort-vocab'] === 'on' } });
const opt = new AdamW(model.parameters(), { lr: 1e-3, beta1: 0.9, beta2: 0.99, weightDecay: 0.1, maxGradNorm: 1 });
const rng = C.mulberry32(2);
const batches = Array.from({ length: 8 }, () => Int32Array.from({ length: B * T }, () => Math.floor(rng() * args.vocab)));
let k = 0;
/** One step; returns its loss tensor's value when `read`. */
const step = async (read: boolean): Promise<number | null> => C.scope(async () => {
  const loss = model.loss(C.tensor(batches[k++ % batches.length]!, [B, T], { dtype: 'i32' }));
  C.backward(loss);
  opt.step({ lr: 1e-3 });
  model.zeroGrad();
  return read ? loss.item() : null;
});

for (let i = 0; i < 5; i++) await step(i === 4);
await backend.flush();

// Memory: what a step adds at its peak over what is live at its start.
const before = backend.memory();
backend.resetPeak();
await step(true);
await backend.flush();
const after = backend.memory();
const MiB = 2 ** 20;
const peakStepMiB = (after.peakBytes - before.bytesInUse) / MiB;

// Time: N steps, host time to enqueue each, one read at the end.
let hostMs = 0;
const t0 = performance.now();
for (let i = 0; i < args.steps; i++) {
  const h = performance.now();
  await step(i === args.steps - 1);
  if (i < args.steps - 1) hostMs += performance.now() - h;
}
await backend.flush();
const wallMs = (performance.now() - t0) / args.steps;
const hostPerStep = hostMs / Math.max(1, args.steps - 1);

// Profile of one step.
const prof = backend as Backend & { startProfiling?: () => unknown; stopProfiling?: () => Promise<{ table(): string; rows(): { kernel: string; dispatches: number; totalMs: number }[] }> };
let profile: { kernel: string; dispatches: number; totalMs: number }[] | null = null;
let table = '';
if (prof.startProfiling && prof.stopProfiling) {
  prof.startProfiling();
  await step(false);
  const p = await prof.stopProfiling();
  profile = p.rows();
  table = p.table();
}
const dispatches = profile?.reduce((s, r) => s + r.dispatches, 0) ?? null;
const gpuMs = profile?.reduce((s, r) => s + r.totalMs, 0) ?? null;
const result = {
  attention: args.attention, scratchMiB: args.scratch ?? null, sortVocab: args['sort-vocab'] === 'on', backend: backend.name, description: backend.description, config: args.config, batch: B, context: T, vocab: cfg.vocabSize,
  parameters: gptParameterCount(cfg), stepMs: wallMs, tokensPerSecond: (B * T) / (wallMs / 1000), hostMsPerStep: hostPerStep,
  gpuMsPerStep: gpuMs, dispatchesPerStep: dispatches, peakStepMiB, liveMiBAtStepStart: before.bytesInUse / MiB, pooledMiB: after.pooledBytes / MiB, profile,
};
if (args.json) process.stdout.write(`${JSON.stringify(result)}\n`);
log(`${args.config}: batch ${B} x ${T}, vocab ${cfg.vocabSize}, CCE scratch ${args.scratch ? `${args.scratch} MiB` : "the GPT's"}, vocabulary sort ${args['sort-vocab']}, ${args.attention} attention, ${(result.parameters / 1e6).toFixed(2)}M parameters on ${backend.name}`);
log(`| ms/step | tokens/s | host ms/step | GPU ms/step (profiled) | dispatches/step | peak step MiB | live MiB at start | pooled MiB |`);
log(`|---|---|---|---|---|---|---|---|`);
log(`| ${wallMs.toFixed(2)} | ${Math.round(result.tokensPerSecond)} | ${hostPerStep.toFixed(2)} | ${gpuMs?.toFixed(2) ?? '-'} | ${dispatches ?? '-'} | ${peakStepMiB.toFixed(1)} | ${result.liveMiBAtStepStart.toFixed(1)} | ${result.pooledMiB.toFixed(1)} |`);
if (table) log(table);
opt.dispose();
model.dispose();
