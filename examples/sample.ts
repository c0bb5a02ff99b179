// `pnpm sample`: text from a checkpoint written by `pnpm train`. The tokenizer comes from the checkpoint's
// training_state.json; the classifier's padding rows (ids beyond the tokenizer's vocabulary) are never
// sampled. `--write-logits FILE` instead writes the logits of a fixed batch (seeded random ids, every
// position) as safetensors, for examples/pytorch/check_logits.py to compare with transformers' GPT-2.
// Usage: pnpm sample -- --ckpt DIR [--prompt TEXT] [--tokens N] [--temperature T] [--top-k K] [--seed S]
import * as C from '@cce/core';
import { TRAINING_STATE_FILE, type Tokenizer, type TokenizerSpec, encodeSafetensors, gptFromCheckpoint, loadCheckpoint, sampleTokens, tokenizerFromSpec } from '@cce/nn';
import { renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { loadBackends } from './backends.js';

const args = await C.parseCli({
  command: 'pnpm sample',
  summary: 'Generate text from a checkpoint written by `pnpm train` (or write its logits on a fixed batch, to check them against PyTorch).',
  flags: {
    ckpt: { type: 'string', placeholder: 'DIR', default: 'runs/gpt/checkpoint', description: 'the checkpoint directory (model.safetensors, config.json, training_state.json)' },
    prompt: { type: 'string', placeholder: 'TEXT', default: 'The ', description: 'the text to continue' },
    tokens: { type: 'integer', min: 0, default: 200, placeholder: 'N', description: 'tokens to generate' },
    temperature: { type: 'number', min: 0, default: 0.8, description: 'softmax temperature (0: always the most likely token)' },
    'top-k': { type: 'integer', min: 1, placeholder: 'K', defaultText: 'all', description: 'sample from the K most likely tokens only' },
    seed: { type: 'integer', min: 0, default: 0, description: "seed of the sampler (and of --write-logits' batch)" },
    'write-logits': { type: 'string', placeholder: 'FILE', description: 'write input_ids [2, context] (seeded random ids) and their logits [2, context, vocab] to FILE (safetensors) and exit' },
    backend: C.commonFlags.backend,
    verbose: C.commonFlags.verbose,
  },
  notes: ['examples:\n  pnpm sample -- --ckpt runs/gpt/checkpoint --prompt "It was" --tokens 100 --top-k 40\n' +
    '  pnpm sample -- --ckpt runs/gpt/checkpoint --write-logits runs/gpt/logits.safetensors'],
});
const say = C.cliLog(true);
const fail = (message: string): never => C.exitWithError(message.split('\n')[0]!, 1);

const ckpt = await loadCheckpoint(args.ckpt).catch((e: Error) => fail(e.message));
const spec = (ckpt.state[TRAINING_STATE_FILE] as { tokenizer?: TokenizerSpec } | undefined)?.tokenizer ??
  fail(`${join(resolve(args.ckpt), TRAINING_STATE_FILE)} is missing or names no tokenizer, so the ids cannot be decoded`);
const tokenizer: Tokenizer = await tokenizerFromSpec(spec).catch((e: Error) => fail(e.message));

// The prompt is checked before a backend starts.
let prompt: number[] = [];
if (args['write-logits'] === undefined) {
  try {
    prompt = tokenizer.encode(args.prompt);
  } catch (e) {
    fail(`--prompt: ${(e as Error).message}`);
  }
  if (!prompt.length) C.exitWithError('--prompt is empty: give at least one character');
}

await loadBackends();
const backend = await C.cliBackend(args.backend, { log: say, verbose: args.verbose });
C.setBackend(backend);
const model = (() => {
  try {
    return gptFromCheckpoint(ckpt, { backend });
  } catch (e) {
    return fail(`${resolve(args.ckpt)}: ${(e as Error).message}`);
  }
})();
const { contextLength: T, vocabSize: V } = model.config;
if (tokenizer.modelVocabSize !== V) fail(`the checkpoint's tokenizer has ${tokenizer.vocabSize} ids (${tokenizer.modelVocabSize} padded), its model ${V} classifier rows`);

if (args['write-logits'] !== undefined) {
  const rng = C.mulberry32(args.seed);
  const ids = Int32Array.from({ length: 2 * T }, () => Math.floor(rng() * tokenizer.vocabSize));
  model.eval();
  const logits = await C.scope(async () => C.noGrad(() => model.logits(C.tensor(ids, [2, T], { dtype: 'i32' }), { all: true })).read());
  const file = resolve(args['write-logits']);
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  writeFileSync(tmp, encodeSafetensors(new Map([
    ['input_ids', { dtype: 'I32', shape: [2, T], data: ids }],
    ['logits', { dtype: 'F32', shape: [2, T, V], data: Float32Array.from(logits) }],
  ]), { format: 'pt', backend: backend.name }));
  renameSync(tmp, file);
  say(`logits of 2 x ${T} seeded random ids on ${backend.name}: ${file}`);
} else {
  process.stdout.write(args.prompt);
  // Each new id is decoded with all that came before it (a BPE token can end inside a UTF-8 character);
  // what is printed is the new text's growth, held back while it ends in a replacement character.
  const ids: number[] = [];
  let printed = 0;
  const flush = (final: boolean) => {
    const text = tokenizer.decode(ids);
    if (!final && text.endsWith('\uFFFD')) return;
    process.stdout.write(text.slice(printed));
    printed = text.length;
  };
  await sampleTokens(model, prompt, {
    tokens: args.tokens, vocabSize: tokenizer.vocabSize, temperature: args.temperature, topK: args['top-k'], seed: args.seed,
    onToken: (id) => { ids.push(id); flush(false); },
  });
  flush(true);
  process.stdout.write('\n');
}
model.dispose();
