// A checkpoint directory: model.safetensors, config.json and any number of JSON state files
// (optimizer state, step, schedule, RNG, data position, ...), written atomically.
import { CheckpointError, writeCheckpointDir } from './atomic-dir.js';
import { nodeFs } from './node.js';
import { readSafetensors, type SafetensorsTensor } from './safetensors.js';

export const MODEL_FILE = 'model.safetensors';
export const CONFIG_FILE = 'config.json';
/** The state file beside a training run's checkpoint; it holds the tokenizer that sampling reads. */
export const TRAINING_STATE_FILE = 'training_state.json';

export interface Checkpoint {
  tensors: Map<string, SafetensorsTensor> | Record<string, SafetensorsTensor>;
  /** Written as config.json (a plain object). */
  config: Record<string, unknown>;
  /** Further JSON files beside the model, by file name (each ending in .json). */
  state?: Record<string, unknown>;
  /** safetensors `__metadata__`; default {format: 'pt'}. */
  metadata?: Record<string, string>;
}

export interface LoadedCheckpoint {
  tensors: Map<string, SafetensorsTensor>;
  config: Record<string, unknown>;
  state: Record<string, unknown>;
  metadata: Record<string, string>;
}

function checkStateName(name: string): void {
  if (!name.endsWith('.json') || name === CONFIG_FILE) {
    throw new CheckpointError(`checkpoint: state file name '${name}' must end in .json and not be ${CONFIG_FILE}`);
  }
}

/** Writes `dir` atomically: the previous checkpoint there stays intact until the new one is complete. */
export async function saveCheckpoint(dir: string, ckpt: Checkpoint): Promise<void> {
  const config = ckpt.config;
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new CheckpointError(`checkpoint ${dir}: config must be a plain object`);
  }
  const state = ckpt.state ?? {};
  for (const name of Object.keys(state)) checkStateName(name);
  await writeCheckpointDir(dir, (w) => {
    w.safetensors(MODEL_FILE, ckpt.tensors, ckpt.metadata ?? { format: 'pt' });
    w.json(CONFIG_FILE, config);
    for (const [name, value] of Object.entries(state)) w.json(name, value);
  });
}

function readJson(fs: Awaited<ReturnType<typeof nodeFs>>['fs'], path: string): unknown {
  const text = fs.readFileSync(path, 'utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(`checkpoint file ${path}: not valid JSON (${(e as Error).message})`);
  }
}

/** Reads a checkpoint directory: every file is parsed and checked before anything is returned. */
export async function loadCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  const { fs, path } = await nodeFs();
  const { join } = path;
  dir = path.resolve(dir);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new CheckpointError(`checkpoint ${dir}: no such directory`);
  for (const f of [MODEL_FILE, CONFIG_FILE]) {
    if (!fs.existsSync(join(dir, f))) throw new CheckpointError(`checkpoint ${dir}: ${f} is missing`);
  }
  const { tensors, metadata } = await readSafetensors(join(dir, MODEL_FILE));
  const config = readJson(fs, join(dir, CONFIG_FILE));
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new CheckpointError(`checkpoint file ${join(dir, CONFIG_FILE)}: not a JSON object`);
  }
  const state: Record<string, unknown> = {};
  for (const name of fs.readdirSync(dir).sort()) {
    if (name.endsWith('.json') && name !== CONFIG_FILE) state[name] = readJson(fs, join(dir, name));
  }
  return { tensors, config: config as Record<string, unknown>, state, metadata };
}
