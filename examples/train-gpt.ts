// `pnpm train`: trains a GPT from scratch (packages/nn) with CCE as its loss, on the best backend found.
// Defaults by backend: on a WebGPU hardware adapter `tiny` with GPT-2's BPE; otherwise (gpu.js, cpu, a
// software adapter) `micro` with the char tokenizer. Progress as plain lines; metrics as JSONL and an
// atomic checkpoint directory (GPT-2 names, config.json, optimizer and training state) in --out.
// The loop itself is examples/train-gpt/run.ts (`train(options)`).
// Usage: pnpm train [-- --backend NAME] [--config micro|tiny|small] [--steps N] ...   (--help lists every flag)
import * as C from '@cce/core';
import { GPT_PRESETS, type GPTPresetName } from '@cce/nn';
import { loadBackends } from './backends.js';
import { loadRunData, train } from './train-gpt/run.js';

const configs = Object.keys(GPT_PRESETS) as GPTPresetName[];
const args = await C.parseCli({
  command: 'pnpm train',
  summary: 'Train a GPT language model from scratch (CCE loss, AdamW, warmup then cosine) on the Brown corpus or a text ' +
    'file of your own; writes metrics as JSONL and a checkpoint Hugging Face transformers can load into --out.',
  flags: {
    backend: C.commonFlags.backend,
    config: { type: 'enum', choices: configs, defaultText: 'tiny on a WebGPU hardware adapter, else micro', description: 'model size: micro (2 layers, d=64, context 64), tiny (4 layers, d=256, context 128), small (6 layers, d=384, context 256)' },
    tokenizer: { type: 'enum', choices: ['bpe', 'char'], defaultText: 'bpe on a WebGPU hardware adapter, else char', description: "GPT-2's BPE (50304 classifier rows) or the corpus's own characters" },
    steps: { type: 'integer', min: 1, placeholder: 'N', defaultText: '2000 on a WebGPU hardware adapter (about 2 minutes on an H200), else 200 (a few minutes on 2 CPU cores)', description: "the schedule's length (warmup min(100, steps/10), cosine to lr/10 at this step)" },
    'stop-after': { type: 'integer', min: 1, placeholder: 'K', description: 'stop after K steps, the schedule unchanged' },
    batch: { type: 'integer', min: 1, placeholder: 'N', defaultText: "the config's (micro 8, tiny 16, small 32)", description: 'windows per batch' },
    lr: { type: 'number', min: 0, minExclusive: true, default: 1e-3, description: 'peak learning rate' },
    seed: { type: 'integer', min: 0, default: 1337, description: 'seed of the initialisation and the training windows' },
    data: { type: 'string', placeholder: 'FILE', defaultText: 'the Brown corpus', description: 'a UTF-8 text file to train on (split 90/10 by position)' },
    out: { type: 'string', placeholder: 'DIR', default: 'runs/gpt', description: 'where metrics.jsonl and checkpoint/ go' },
    'eval-every': { type: 'integer', min: 1, default: 100, placeholder: 'N', description: 'validation loss (40 fixed windows) and a checkpoint every N steps, and at the end' },
    'log-every': { type: 'integer', min: 1, default: 10, placeholder: 'N', description: 'a progress line and a metrics record every N steps' },
    verbose: C.commonFlags.verbose,
  },
  notes: ['examples:\n  pnpm train\n  pnpm train -- --backend cpu --steps 200 --eval-every 50\n  pnpm train -- --data my.txt --tokenizer char --out runs/mine',
    'not yet: --resume, the SVG loss curve and `pnpm sample` (see issue 10).'],
});
const say = C.cliLog(false);

await loadBackends();
const backend = await C.cliBackend(args.backend, { log: say, verbose: args.verbose });
const hardwareGpu = backend.name === 'webgpu' && !C.isSoftwareAdapter({ text: backend.description });
const config = args.config ?? (hardwareGpu ? 'tiny' : 'micro');
const tokenizer = args.tokenizer ?? (hardwareGpu ? 'bpe' : 'char');
const why = hardwareGpu ? 'a WebGPU hardware adapter' : `${backend.name}${backend.name === 'webgpu' ? ' on a software adapter' : ''}, where BPE's 50304-row classifier is too slow`;
const given = [args.config !== undefined && '--config', args.tokenizer !== undefined && '--tokenizer'].filter(Boolean);
say(`config ${config}, tokenizer ${tokenizer}: ${given.length === 2 ? 'as given' : `${given.length ? `${given[0]} as given, the rest ` : ''}the defaults for ${why}`}`);

let data;
try {
  data = await loadRunData({ data: args.data, tokenizer, config });
} catch (e) {
  // nn's data module names the file and what is wrong (missing, empty, too short for one context).
  process.stderr.write(`pnpm train: ${(e as Error).message.split('\n')[0]}\n`);
  process.exit(2);
}
const { help: _h, _: _p, ...flags } = args;
const result = await train({
  backend, config, tokenizer, data: args.data, steps: args.steps ?? (hardwareGpu ? 2000 : 200), stopAfter: args['stop-after'], batch: args.batch, lr: args.lr,
  seed: args.seed, out: args.out, evalEvery: args['eval-every'], logEvery: args['log-every'], log: say, flags: { ...flags, config, tokenizer },
}, data);
const last = result.records[result.records.length - 1];
say(`done: ${result.stepsRun} steps, final loss ${last?.loss.toFixed(4)}${last?.valLoss !== undefined ? `, val ${last.valLoss.toFixed(4)}` : ''}, ` +
  `${Math.round(result.tokensPerSecond).toLocaleString('en-US')} training tokens/s`);
say(`metrics: ${result.metricsFile}`);
say(`checkpoint: ${result.checkpointDir} (model.safetensors, config.json, optimizer.safetensors, training_state.json)`);
