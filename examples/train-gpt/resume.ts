// What `pnpm train --resume` reads back: the training state beside the checkpoint (step, schedule, the
// sampler's and dropout's positions, the run's settings) and the optimizer's moments. Everything is read
// and checked against the run before the model or the optimizer is touched.
import { CheckpointError, type LoadedCheckpoint, type SafetensorsTensor, TRAINING_STATE_FILE, loadCheckpoint, readSafetensors, recoverCheckpointDir } from '@cce/nn';
import type { CosineSchedule, TokenizerSpec } from '@cce/nn';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const STATE_FORMAT = 'cce-train-state-v1';

export interface TrainingState {
  format: typeof STATE_FORMAT;
  step: number;
  steps: number;
  config: string;
  /** Absent in checkpoints written before the option (composed: see savedAttention). */
  attention?: 'composed' | 'fused';
  batch: number;
  seed: number;
  schedule: CosineSchedule;
  optimizer: { file: string; step: number; lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; maxGradNorm: number | null; parameters: string[] };
  sampler: { seed: number; drawn: number };
  dropout: number[];
  tokenizer: TokenizerSpec;
  /** tokenCache: the token cache entry the run read (for examples/pytorch), null when caching was off. */
  data: { corpus: string; file: string | null; trainTokens: number; valTokens: number; tokenCache: string | null };
  flags: Record<string, unknown>;
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Checks the fields resuming relies on (the file was written by us, but may have been edited or cut). */
function checkState(s: unknown, source: string): TrainingState {
  const bad = (what: string) => new CheckpointError(`${source}: ${what}`);
  if (typeof s !== 'object' || s === null) throw bad('not a JSON object');
  const st = s as TrainingState;
  if (st.format !== STATE_FORMAT) throw bad(`format is ${JSON.stringify(st.format)}, expected "${STATE_FORMAT}"`);
  for (const k of ['step', 'steps', 'batch', 'seed'] as const) if (!isInt(st[k])) throw bad(`${k} is ${JSON.stringify(st[k])}, not a non-negative integer`);
  if (st.step > st.steps) throw bad(`step ${st.step} is past the schedule's ${st.steps} steps`);
  if (typeof st.config !== 'string') throw bad('config is missing');
  if (!st.schedule || typeof st.schedule.maxLr !== 'number') throw bad('schedule is missing');
  if (!st.optimizer || !Array.isArray(st.optimizer.parameters) || st.optimizer.step !== st.step) throw bad('optimizer is missing or its step differs from the step');
  if (!st.sampler || !isInt(st.sampler.seed) || !isInt(st.sampler.drawn)) throw bad('sampler state is missing');
  if (!Array.isArray(st.dropout) || !st.tokenizer || !st.data) throw bad('dropout, tokenizer or data is missing');
  return st;
}

/** The training state of a run directory's checkpoint, or undefined when there is none. A partly
 *  written checkpoint left by a crash is recovered first (see recoverCheckpointDir). */
export async function readTrainingState(checkpointDir: string): Promise<TrainingState | undefined> {
  await recoverCheckpointDir(checkpointDir);
  const path = join(checkpointDir, TRAINING_STATE_FILE);
  if (!existsSync(path)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new CheckpointError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  return checkState(parsed, path);
}

export interface ResumePoint {
  state: TrainingState;
  model: LoadedCheckpoint;
  /** The optimizer's first and second moments, in the order of state.optimizer.parameters. */
  m: Float32Array[];
  v: Float32Array[];
}

/** Reads and checks the whole checkpoint: the model files, the training state and the optimizer's moments. */
export async function readResumePoint(checkpointDir: string): Promise<ResumePoint> {
  const state = await readTrainingState(checkpointDir);
  if (!state) throw new CheckpointError(`--resume: ${checkpointDir} holds no checkpoint (no ${TRAINING_STATE_FILE})`);
  const model = await loadCheckpoint(checkpointDir);
  const optPath = join(checkpointDir, state.optimizer.file);
  if (!existsSync(optPath)) throw new CheckpointError(`--resume: ${optPath} is missing`);
  const { tensors } = await readSafetensors(optPath);
  const moment = (kind: 'm' | 'v', name: string): Float32Array => {
    const t: SafetensorsTensor | undefined = tensors.get(`${kind}.${name}`);
    const w = model.tensors.get(`transformer.${name}`);
    if (!t || t.dtype !== 'F32') throw new CheckpointError(`${optPath}: tensor '${kind}.${name}' is missing or not F32`);
    if (!w || t.shape.join() !== w.shape.join()) {
      throw new CheckpointError(`${optPath}: '${kind}.${name}' has shape [${t.shape}], the model's tensor has [${w?.shape ?? 'none'}]`);
    }
    return t.data as Float32Array;
  };
  const names = state.optimizer.parameters;
  if (tensors.size !== 2 * names.length) throw new CheckpointError(`${optPath}: ${tensors.size} tensors for ${names.length} parameters (expected m and v of each)`);
  return { state, model, m: names.map((n) => moment('m', n)), v: names.map((n) => moment('v', n)) };
}

/** The attention a checkpoint's run trained with: checkpoints from before the option used the composed one. */
export const savedAttention = (st: TrainingState | undefined): 'composed' | 'fused' | undefined => (st ? st.attention ?? 'composed' : undefined);
