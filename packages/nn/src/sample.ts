// Sampling from a GPT, one token at a time: the last position's logits are read to the host, the ids the
// tokenizer cannot decode (the classifier's padding rows) are removed, then temperature and top-k, then a
// draw from a seeded generator. The context is the last `contextLength` tokens.
import * as C from '@cce/core';
import type { GPT } from './layers/gpt.js';

export interface SampleOptions {
  /** Tokens to generate. */
  tokens: number;
  /** Ids below this are sampled (the tokenizer's vocabulary; the padding rows above it never are). */
  vocabSize: number;
  /** 0 picks the most likely id (greedy); default 1. */
  temperature?: number;
  /** Keep only the k most likely ids; default all. */
  topK?: number;
  seed?: number;
  /** Called with each new id as it is drawn. */
  onToken?: (id: number) => void;
}

/** The id drawn from one row of logits (exported for tests). */
export function drawToken(logits: ArrayLike<number>, opts: Pick<SampleOptions, 'vocabSize' | 'temperature' | 'topK'>, rng: () => number): number {
  const n = Math.min(opts.vocabSize, logits.length);
  const temperature = opts.temperature ?? 1;
  const ids = Array.from({ length: n }, (_, i) => i).filter((i) => !Number.isNaN(logits[i]!));
  if (!ids.length) throw new Error(`sample: every logit of the ${n} sampleable ids is NaN (the model has diverged)`);
  ids.sort((a, b) => logits[b]! - logits[a]! || a - b);
  if (temperature === 0) return ids[0]!;
  const kept = ids.slice(0, Math.min(ids.length, opts.topK ?? ids.length));
  const top = logits[kept[0]!]!;
  const weights = kept.map((i) => Math.exp((logits[i]! - top) / temperature));
  const total = weights.reduce((s, w) => s + w, 0);
  let r = rng() * total;
  for (let j = 0; j < kept.length; j++) {
    r -= weights[j]!;
    if (r < 0) return kept[j]!;
  }
  return kept[kept.length - 1]!;
}

/** Continues `prompt` (ids) by `opts.tokens` sampled ids; returns only the new ids. */
export async function sampleTokens(model: GPT, prompt: readonly number[], opts: SampleOptions): Promise<number[]> {
  const { tokens, vocabSize } = opts;
  const temperature = opts.temperature ?? 1;
  if (!Number.isInteger(tokens) || tokens < 0) throw new RangeError(`sample: tokens must be a non-negative integer, got ${tokens}`);
  if (!Number.isInteger(vocabSize) || vocabSize < 1 || vocabSize > model.config.vocabSize) {
    throw new RangeError(`sample: vocabSize ${vocabSize} is outside [1, ${model.config.vocabSize}] (the model's classifier rows)`);
  }
  if (!(temperature >= 0 && Number.isFinite(temperature))) throw new RangeError(`sample: temperature must be a finite number >= 0, got ${temperature}`);
  if (opts.topK !== undefined && !(Number.isInteger(opts.topK) && opts.topK >= 1)) throw new RangeError(`sample: topK must be a positive integer, got ${opts.topK}`);
  if (!prompt.length) throw new RangeError('sample: the prompt needs at least one token');
  for (const id of prompt) {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) throw new RangeError(`sample: prompt id ${id} is outside [0, ${vocabSize})`);
  }
  const rng = C.mulberry32(opts.seed ?? 0);
  const ids = [...prompt];
  const out: number[] = [];
  const wasTraining = model.training;
  model.eval();
  try {
    for (let i = 0; i < tokens; i++) {
      const context = ids.slice(-model.config.contextLength);
      const row = await C.scope(async () => C.noGrad(() => model.logits(C.tensor(context, [1, context.length], { dtype: 'i32', backend: model.wte.weight.backend }))).read());
      const id = drawToken(row, { vocabSize, temperature, topK: opts.topK }, rng);
      ids.push(id);
      out.push(id);
      opts.onToken?.(id);
    }
  } finally {
    model.train(wasTraining);
  }
  return out;
}
