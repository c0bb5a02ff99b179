// Hugging Face GPT-2 naming: the tensor names and shapes GPT2LMHeadModel loads from model.safetensors
// (no lm_head.weight: transformers ties it to transformer.wte.weight) and the config.json it reads.
// Conv1D layers store their weight as [in, out]; c_attn's 3d output columns are q | k | v.
import type { SafetensorsTensor } from './safetensors.js';

export interface Gpt2Dims {
  vocabSize: number;
  nPositions: number;
  nEmbd: number;
  nLayer: number;
  nHead: number;
}

export interface Gpt2TensorSpec {
  name: string;
  shape: number[];
}

/** Dropout probabilities recorded in config.json (all 0 unless dropout was used). */
export interface Gpt2Dropout {
  resid?: number;
  embd?: number;
  attn?: number;
}

function checkDims(d: Gpt2Dims): void {
  for (const [k, v] of Object.entries(d)) {
    if (!Number.isSafeInteger(v) || v <= 0) throw new RangeError(`gpt2: ${k} must be a positive integer, got ${v}`);
  }
  if (d.nEmbd % d.nHead !== 0) throw new RangeError(`gpt2: nEmbd ${d.nEmbd} is not a multiple of nHead ${d.nHead}`);
}

/** Every tensor of a GPT-2 checkpoint, in the order of the model's state dict. */
export function gpt2TensorSpecs(dims: Gpt2Dims): Gpt2TensorSpec[] {
  checkDims(dims);
  const { vocabSize: V, nPositions: ctx, nEmbd: d, nLayer } = dims;
  const out: Gpt2TensorSpec[] = [
    { name: 'transformer.wte.weight', shape: [V, d] },
    { name: 'transformer.wpe.weight', shape: [ctx, d] },
  ];
  for (let i = 0; i < nLayer; i++) {
    const h = `transformer.h.${i}`;
    out.push(
      { name: `${h}.ln_1.weight`, shape: [d] },
      { name: `${h}.ln_1.bias`, shape: [d] },
      { name: `${h}.attn.c_attn.weight`, shape: [d, 3 * d] },
      { name: `${h}.attn.c_attn.bias`, shape: [3 * d] },
      { name: `${h}.attn.c_proj.weight`, shape: [d, d] },
      { name: `${h}.attn.c_proj.bias`, shape: [d] },
      { name: `${h}.ln_2.weight`, shape: [d] },
      { name: `${h}.ln_2.bias`, shape: [d] },
      { name: `${h}.mlp.c_fc.weight`, shape: [d, 4 * d] },
      { name: `${h}.mlp.c_fc.bias`, shape: [4 * d] },
      { name: `${h}.mlp.c_proj.weight`, shape: [4 * d, d] },
      { name: `${h}.mlp.c_proj.bias`, shape: [d] },
    );
  }
  out.push({ name: 'transformer.ln_f.weight', shape: [d] }, { name: 'transformer.ln_f.bias', shape: [d] });
  return out;
}

/** GPT-2's <|endoftext|> id. */
const GPT2_END_OF_TEXT = 50256;

/** The config.json object GPT2LMHeadModel reads (tanh GELU = "gelu_new", LayerNorm eps 1e-5). */
export function gpt2Config(dims: Gpt2Dims, dropout: Gpt2Dropout = {}): Record<string, unknown> {
  checkDims(dims);
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: dims.vocabSize,
    n_positions: dims.nPositions,
    n_embd: dims.nEmbd,
    n_layer: dims.nLayer,
    n_head: dims.nHead,
    n_inner: null,
    activation_function: 'gelu_new',
    layer_norm_epsilon: 1e-5,
    resid_pdrop: dropout.resid ?? 0,
    embd_pdrop: dropout.embd ?? 0,
    attn_pdrop: dropout.attn ?? 0,
    tie_word_embeddings: true,
    // GPT2Config's defaults name 50256 (GPT-2's <|endoftext|>); a smaller vocabulary has no such id.
    bos_token_id: dims.vocabSize > GPT2_END_OF_TEXT ? GPT2_END_OF_TEXT : null,
    eos_token_id: dims.vocabSize > GPT2_END_OF_TEXT ? GPT2_END_OF_TEXT : null,
  };
}

/** Reads the dims back from a config.json object, refusing missing or invalid fields. */
export function gpt2DimsFromConfig(config: Record<string, unknown>, source = 'config.json'): Gpt2Dims {
  const get = (k: string): number => {
    const v = config[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
      throw new RangeError(`gpt2 ${source}: ${k} must be a positive integer, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  if (config.model_type !== 'gpt2') throw new RangeError(`gpt2 ${source}: model_type is ${JSON.stringify(config.model_type)}, not "gpt2"`);
  return { vocabSize: get('vocab_size'), nPositions: get('n_positions'), nEmbd: get('n_embd'), nLayer: get('n_layer'), nHead: get('n_head') };
}

/** Checks loaded tensors against the specs of `dims`: every name present as F32 with its shape,
 *  nothing extra. Throws naming the source, the tensor and both shapes. */
export function checkGpt2Tensors(tensors: Map<string, SafetensorsTensor>, dims: Gpt2Dims, source = 'model.safetensors'): void {
  const specs = gpt2TensorSpecs(dims);
  const expected = new Set(specs.map((s) => s.name));
  for (const s of specs) {
    const t = tensors.get(s.name);
    if (!t) throw new RangeError(`gpt2 ${source}: tensor '${s.name}' is missing`);
    if (t.dtype !== 'F32') throw new RangeError(`gpt2 ${source}: tensor '${s.name}' is ${t.dtype}, expected F32`);
    if (t.shape.length !== s.shape.length || t.shape.some((v, i) => v !== s.shape[i])) {
      throw new RangeError(`gpt2 ${source}: tensor '${s.name}' has shape [${t.shape.join(', ')}], the config needs [${s.shape.join(', ')}]`);
    }
  }
  for (const name of tensors.keys()) {
    if (!expected.has(name)) throw new RangeError(`gpt2 ${source}: unexpected tensor '${name}'`);
  }
}
