// A GPT from a checkpoint directory's GPT-2 files: config.json gives the dims, model.safetensors the
// weights (checked by name, dtype and shape against the config before the model is built).
import type * as C from '@cce/core';
import { checkGpt2Tensors, gpt2DimsFromConfig, type Gpt2Dims } from '../checkpoint/gpt2.js';
import type { LoadedCheckpoint } from '../checkpoint/checkpoint.js';
import type { SafetensorsTensor } from '../checkpoint/safetensors.js';
import type { StateDictEntry } from '../module.js';
import { GPT, type GPTConfig, type GPTOptions } from './gpt.js';

const PREFIX = 'transformer.';

/** The GPT config of GPT-2 dims. */
export function gptConfigFromGpt2(dims: Gpt2Dims): GPTConfig {
  return { vocabSize: dims.vocabSize, contextLength: dims.nPositions, layers: dims.nLayer, heads: dims.nHead, dim: dims.nEmbd };
}

/** The GPT-2 dims of a GPT config. */
export function gpt2DimsOf(c: GPTConfig): Gpt2Dims {
  return { vocabSize: c.vocabSize, nPositions: c.contextLength, nEmbd: c.dim, nLayer: c.layers, nHead: c.heads };
}

/** GPT-2's tensors (checked by checkGpt2Tensors: all F32) as the GPT's state dict (names without `transformer.`). */
export function gptStateDict(tensors: Map<string, SafetensorsTensor>): Map<string, StateDictEntry> {
  return new Map([...tensors].map(([name, t]) => [name.slice(PREFIX.length), { dtype: 'F32', shape: t.shape, data: t.data as Float32Array }]));
}

/** Builds a GPT on `opts.backend` holding a loaded checkpoint's weights. Throws naming the file and the tensor. */
export function gptFromCheckpoint(ckpt: LoadedCheckpoint, opts: GPTOptions & { backend?: C.Backend } = {}): GPT {
  const dims = gpt2DimsFromConfig(ckpt.config);
  checkGpt2Tensors(ckpt.tensors, dims);
  const model = new GPT(gptConfigFromGpt2(dims), opts);
  try {
    model.loadStateDict(gptStateDict(ckpt.tensors));
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}
