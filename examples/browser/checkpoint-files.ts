// The playground's checkpoint: the files of the directory `pnpm train` writes that `pnpm sample` reads
// (model.safetensors with GPT-2's tensor names, config.json, training_state.json with the tokenizer), made
// and parsed as bytes, since a page has no file system. The optimizer's moments are not saved: a loaded
// checkpoint continues with a fresh optimizer.
import {
  CONFIG_FILE, CheckpointError, GPT, type LoadedCheckpoint, MODEL_FILE, TRAINING_STATE_FILE, type Tokenizer, type TokenizerSpec, decodeSafetensors, encodeSafetensors, gpt2Config,
  gpt2DimsOf, gpt2Name, gptFromCheckpoint, tokenizerFromSpec,
} from '@cce/nn';
import type * as C from '@cce/core';
import type { CheckpointFile } from './protocol.js';

export const PLAYGROUND_STATE_FORMAT = 'cce-playground-v1';

export interface PlaygroundState {
  format: typeof PLAYGROUND_STATE_FORMAT;
  step: number;
  config: string;
  tokenizer: TokenizerSpec;
  data: { corpus: string; trainTokens: number; valTokens: number };
  backend: string;
}

const json = (v: unknown) => new TextEncoder().encode(`${JSON.stringify(v, null, 1)}\n`);

/** The checkpoint files of `model` after `state.step` steps. */
export async function checkpointFiles(model: GPT, state: Omit<PlaygroundState, 'format'>): Promise<CheckpointFile[]> {
  const weights = await model.stateDictData();
  const tensors = new Map([...weights].map(([name, t]) => [gpt2Name(name), t]));
  return [
    { name: MODEL_FILE, bytes: encodeSafetensors(tensors, { format: 'pt' }) },
    { name: CONFIG_FILE, bytes: json(gpt2Config(gpt2DimsOf(model.config))) },
    { name: TRAINING_STATE_FILE, bytes: json({ format: PLAYGROUND_STATE_FORMAT, ...state }) },
  ];
}

function parseJson(file: CheckpointFile): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(file.bytes));
  } catch (e) {
    throw new CheckpointError(`${file.name} is not valid JSON (${(e as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new CheckpointError(`${file.name} is not a JSON object`);
  return v as Record<string, unknown>;
}

/** A GPT and its tokenizer from checkpoint files (a `pnpm train` checkpoint's or the playground's); every
 *  file is checked before the model is built, and an error names the file and what is wrong. */
export async function loadCheckpointFiles(files: CheckpointFile[], backend: C.Backend): Promise<{ model: GPT; tokenizer: Tokenizer; step: number }> {
  const byName = new Map(files.map((f) => [f.name.replace(/^.*[\\/]/, ''), f]));
  const need = (name: string) => byName.get(name) ?? (() => {
    throw new CheckpointError(`a checkpoint needs ${MODEL_FILE}, ${CONFIG_FILE} and ${TRAINING_STATE_FILE}; ${name} is missing (got ${[...byName.keys()].join(', ') || 'no files'})`);
  })();
  const model = need(MODEL_FILE);
  const { tensors, metadata } = decodeSafetensors(model.bytes, MODEL_FILE);
  const config = parseJson(need(CONFIG_FILE));
  const state = parseJson(need(TRAINING_STATE_FILE));
  const spec = state.tokenizer as TokenizerSpec | undefined;
  if (!spec) throw new CheckpointError(`${TRAINING_STATE_FILE} names no tokenizer, so the ids cannot be decoded`);
  const tokenizer = await tokenizerFromSpec(spec);
  const ckpt: LoadedCheckpoint = { tensors, config, state: { [TRAINING_STATE_FILE]: state }, metadata };
  const gpt = gptFromCheckpoint(ckpt, { backend });
  if (tokenizer.modelVocabSize !== gpt.config.vocabSize) {
    gpt.dispose();
    throw new CheckpointError(`the checkpoint's tokenizer has ${tokenizer.vocabSize} ids (${tokenizer.modelVocabSize} padded), its model ${gpt.config.vocabSize} classifier rows`);
  }
  const step = typeof state.step === 'number' && Number.isSafeInteger(state.step) && state.step >= 0 ? state.step : 0;
  return { model: gpt, tokenizer, step };
}
