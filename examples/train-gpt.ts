// `pnpm train`: trains a GPT from scratch (packages/nn) with CCE as its loss, on the best backend found.
// Defaults by backend: on a WebGPU hardware adapter `tiny` with GPT-2's BPE; otherwise (gpu.js, cpu, a
// software adapter) `micro` with the char tokenizer. A progress bar on a terminal (plain lines elsewhere);
// in --out: metrics as JSONL, the loss curve as SVG and an atomic checkpoint directory (GPT-2 names,
// config.json, optimizer and training state) that --resume continues and `pnpm sample` reads.
// The loop itself is examples/train-gpt/run.ts (`train(options)`).
// Usage: pnpm train [-- --backend NAME] [--config micro|tiny|small] [--steps N] ...   (--help lists every flag)
import * as C from '@cce/core';
import { CheckpointError, GPT_PRESETS, GptFitError, type GPTPresetName } from '@cce/nn';
import { loadBackends } from './backends.js';
import { join } from 'node:path';
import { loadRunData, train } from './train-gpt/run.js';
import { createProgress } from './train-gpt/progress.js';
import { readTrainingState, savedAttention } from './train-gpt/resume.js';

const configs = Object.keys(GPT_PRESETS) as GPTPresetName[];
const args = await C.parseCli({
  command: 'pnpm train',
  summary: 'Train a GPT language model from scratch (CCE loss, AdamW, warmup then cosine) on the Brown corpus or a text ' +
    'file of your own; writes metrics as JSONL and a checkpoint Hugging Face transformers can load into --out.',
  flags: {
    backend: C.commonFlags.backend,
    config: { type: 'enum', choices: configs, defaultText: 'tiny on a WebGPU hardware adapter, else micro', description: 'model size: micro (2 layers, d=64, context 64), tiny (4 layers, d=256, context 128), small (6 layers, d=384, context 256)' },
    attention: { type: 'enum', choices: ['composed', 'fused'], defaultText: "fused (or the checkpoint's with --resume)", description: "the model's attention: fused (causalAttention, no scores in memory) or composed from core ops (the B x H x T x T scores in memory)" },
    tokenizer: { type: 'enum', choices: ['bpe', 'char'], defaultText: 'bpe on a WebGPU hardware adapter, else char', description: "GPT-2's BPE (50304 classifier rows) or the corpus's own characters" },
    steps: { type: 'integer', min: 1, placeholder: 'N', defaultText: '2000 on a WebGPU hardware adapter (about 2 minutes on an H200), else 200 (a few minutes on 2 CPU cores)', description: "the schedule's length (warmup min(100, steps/10), cosine to lr/10 at this step)" },
    'stop-after': { type: 'integer', min: 1, placeholder: 'K', description: 'stop after K steps, the schedule unchanged' },
    batch: { type: 'integer', min: 1, placeholder: 'N', defaultText: "the config's (micro 8, tiny 16, small 32)", description: 'windows per batch' },
    lr: { type: 'number', min: 0, minExclusive: true, defaultText: '1e-3', description: 'peak learning rate' },
    seed: { type: 'integer', min: 0, defaultText: '1337', description: 'seed of the initialisation and the training windows' },
    data: { type: 'string', placeholder: 'FILE', defaultText: 'the Brown corpus', description: 'a UTF-8 text file to train on (split 90/10 by position)' },
    out: { type: 'string', placeholder: 'DIR', default: 'runs/gpt', description: 'where metrics.jsonl, loss-curve.svg and checkpoint/ go' },
    resume: { type: 'boolean', description: "continue the run in --out from its checkpoint (flags left out take the checkpoint's values; flags given must match them)" },
    overwrite: { type: 'boolean', description: 'start over even though --out holds a checkpoint (metrics.jsonl restarts at once; the checkpoint is replaced at the first evaluation)' },
    'eval-every': { type: 'integer', min: 1, default: 100, placeholder: 'N', description: 'validation loss (40 fixed windows) and a checkpoint every N steps, and at the end' },
    'log-every': { type: 'integer', min: 1, default: 10, placeholder: 'N', description: 'a progress line and a metrics record every N steps' },
    verbose: C.commonFlags.verbose,
  },
  notes: ['examples:\n  pnpm train\n  pnpm train -- --backend cpu --steps 200 --eval-every 50\n  pnpm train -- --data my.txt --tokenizer char --out runs/mine\n' +
    '  pnpm train -- --steps 2000 --stop-after 500 && pnpm train -- --resume     (the same run as one of 2000 steps)'],
});
let say = C.cliLog(false);
// Data and checkpoint errors name the file and what is wrong; the work cannot be done (exit 1).
const fail = (message: string): never => C.exitWithError(message.split('\n')[0]!, 1);

// --resume takes the run's settings from its checkpoint; flags given must agree (checked in train()).
const checkpointDir = join(args.out, 'checkpoint');
const saved = args.resume ? await readTrainingState(checkpointDir).catch((e: Error) => fail(e.message)) : undefined;
if (args.resume && !saved) fail(`--resume: ${checkpointDir} holds no checkpoint to continue`);
if (args.resume && args.overwrite) C.exitWithError('--resume and --overwrite contradict each other');

await loadBackends();
const backend = await C.cliBackend(args.backend, { log: say, verbose: args.verbose });
const hardwareGpu = backend.name === 'webgpu' && !C.isSoftwareAdapter({ text: backend.description });
const config = args.config ?? (saved?.config as typeof configs[number] | undefined) ?? (hardwareGpu ? 'tiny' : 'micro');
const tokenizer = args.tokenizer ?? saved?.tokenizer.kind ?? (hardwareGpu ? 'bpe' : 'char');
const why = hardwareGpu ? 'a WebGPU hardware adapter' : `${backend.name}${backend.name === 'webgpu' ? ' on a software adapter' : ''}, where BPE's 50304-row classifier is too slow`;
const given = [args.config !== undefined && '--config', args.tokenizer !== undefined && '--tokenizer'].filter(Boolean);
if (saved) say(`resuming ${checkpointDir}: step ${saved.step} of ${saved.steps}, config ${config}, tokenizer ${tokenizer}`);
else say(`config ${config}, tokenizer ${tokenizer}: ${given.length === 2 ? 'as given' : `${given.length ? `${given[0]} as given, the rest ` : ''}the defaults for ${why}`}`);

const dataFile = args.data ?? saved?.data.file ?? undefined;
// nn's data module names the file and what is wrong (missing, empty, too short for one context).
const data = await loadRunData({ data: dataFile, tokenizer, config }).catch((e: Error) => fail(e.message));
const { help: _h, _: _p, ...flags } = args;
const steps = args.steps ?? saved?.steps ?? (hardwareGpu ? 2000 : 200);
// A bar on a terminal, plain lines elsewhere; every line goes through it, so the two never tangle.
const progress = createProgress({ total: Math.min(steps, args['stop-after'] ?? steps) });
say = (line) => progress.log(line);
const result = await train({
  backend, config, tokenizer, attention: args.attention ?? savedAttention(saved), data: dataFile, steps, stopAfter: args['stop-after'], progress,
  batch: args.batch ?? saved?.batch, lr: args.lr ?? saved?.schedule.maxLr, seed: args.seed ?? saved?.seed, out: args.out, resume: args.resume,
  overwrite: args.overwrite, evalEvery: args['eval-every'], logEvery: args['log-every'], log: say, flags: { ...flags, config, tokenizer },
}, data).catch((e: Error) => (e instanceof CheckpointError || e instanceof GptFitError ? fail(e.message) : Promise.reject(e)));
const last = result.records[result.records.length - 1];
say(`done: ${result.stepsRun} steps, final loss ${last?.loss.toFixed(4)}${last?.valLoss !== undefined ? `, val ${last.valLoss.toFixed(4)}` : ''}, ` +
  `${Math.round(result.tokensPerSecond).toLocaleString('en-US')} training tokens/s`);
say(`loss curve: ${result.curveFile}`);
say(`metrics: ${result.metricsFile}`);
say(`checkpoint: ${result.checkpointDir} (model.safetensors, config.json, optimizer.safetensors, training_state.json)`);
