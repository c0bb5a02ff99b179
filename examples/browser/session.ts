// A training session in the worker: a GPT of a preset (or a loaded checkpoint) on one backend, its data,
// AdamW with warmup then cosine as `pnpm train` runs it, one step at a time so the worker can answer
// messages between steps, validation over fixed windows, sampling and checkpoint files.
import * as C from '@cce/core';
import {
  AdamW, BatchSampler, type Corpus, type CosineSchedule, GPT, GPT_PRESETS, type GPTPresetName, type Tokenizer, bpeTokenizer, brownCorpusOf, charTokenizer, checkGptFits, checkTokensFit,
  gptConfig, gptParameterCount, lrAt, sampleTokens, textCorpus, tokenizeCorpus, validationBatches,
} from '@cce/nn';
import { checkpointFiles } from './checkpoint-files.js';
import type { CheckpointFile, SampleRequest, SessionInfo, SetupRequest, StepRecord, TextChoice } from './protocol.js';

/** The loss settings of the model, and of the memory measurement beside it. */
export const LOSS_OPTIONS = { scratchBytes: 16 * 2 ** 20, sortVocab: false };

export interface SessionData {
  corpus: Corpus;
  tokenizer: Tokenizer;
  train: Int32Array;
  val: Int32Array;
}

/** The chosen text as a corpus; `brown` is the bundled slice's documents. */
export function corpusOf(text: TextChoice, brown: () => Promise<string[]>): Promise<Corpus> {
  const what = 'the pasted text';
  if (text.kind === 'pasted') return Promise.resolve(textCorpus(text.text.replace(/\r\n?/g, '\n'), { name: 'pasted', origin: 'pasted text', what, label: what }));
  return brown().then((docs) => brownCorpusOf(docs, 'the Brown corpus slice bundled with the page', 'brown-slice'));
}

/** The tokenizer a request names: GPT-2's BPE, or the corpus's own characters. */
export async function tokenizerFor(kind: SetupRequest['tokenizer'], corpus: Corpus): Promise<Tokenizer> {
  return kind === 'bpe' ? bpeTokenizer() : charTokenizer(corpus.documents);
}

/** The corpus's ids under `tokenizer`, checked to hold a context. */
export function sessionData(corpus: Corpus, context: number, tokenizer: Tokenizer): SessionData {
  const { train, val } = tokenizeCorpus(corpus, tokenizer);
  checkTokensFit(corpus, tokenizer, { train, val, tokenizer, corpus: corpus.name, cached: false }, context);
  return { corpus, tokenizer, train, val };
}

/** The preset whose dims a model has (a loaded checkpoint's), with its batch size. */
function presetOf(model: GPT): { name: string; batch: number } {
  const c = model.config;
  for (const [name, p] of Object.entries(GPT_PRESETS)) {
    if (p.layers === c.layers && p.heads === c.heads && p.dim === c.dim && p.contextLength === c.contextLength) return { name, batch: p.batchSize };
  }
  return { name: 'custom', batch: GPT_PRESETS.micro.batchSize };
}

export class Session {
  step: number;
  private readonly opt: AdamW;
  private readonly sampler: BatchSampler;
  private readonly valIds: { ids: C.Tensor; n: number }[];
  private readonly schedule: CosineSchedule;
  readonly info: SessionInfo;

  private constructor(readonly backend: C.Backend, readonly model: GPT, readonly data: SessionData, readonly request: SetupRequest, preset: { name: string; batch: number }, startStep: number) {
    const T = model.config.contextLength;
    const { steps, lr } = request;
    this.step = startStep;
    this.schedule = { warmupSteps: Math.min(100, Math.floor(steps / 10)), totalSteps: steps, maxLr: lr, minLr: lr / 10 };
    checkGptFits(model.config, preset.batch, backend);
    this.opt = new AdamW(model.parameters(), { lr, beta1: 0.9, beta2: 0.99, weightDecay: 0.1, maxGradNorm: 1.0 });
    this.sampler = new BatchSampler(data.train, T, preset.batch, request.seed);
    // Validation runs forward only: batches of at least the micro preset's 8 windows, so a small
    // training batch does not multiply its dispatches.
    this.valIds = validationBatches(data.val, T, Math.max(preset.batch, GPT_PRESETS.micro.batchSize)).map((b) => ({ ids: C.keep(C.tensor(b.inputs, [b.batch, T], { dtype: 'i32', backend })), n: b.batch }));
    const c = model.config;
    this.info = {
      config: preset.name, layers: c.layers, heads: c.heads, dim: c.dim, context: T, batch: preset.batch, vocab: c.vocabSize, parameters: gptParameterCount(c),
      corpus: data.corpus.name, tokenizer: data.tokenizer.kind, trainTokens: data.train.length, valTokens: data.val.length, steps, step: startStep,
    };
  }

  /** A new model of the request's preset. */
  static create(backend: C.Backend, request: SetupRequest, data: SessionData): Session {
    const cfg = gptConfig(request.config as GPTPresetName, data.tokenizer.modelVocabSize);
    const batch = request.batch || cfg.batchSize;
    checkGptFits(cfg, batch, backend);
    const model = new GPT(cfg, { seed: request.seed, backend, loss: LOSS_OPTIONS });
    return Session.adopt(backend, model, data, request, { name: request.config, batch }, 0);
  }

  /** A session around a loaded model, continuing from `step`. */
  static resume(backend: C.Backend, model: GPT, request: SetupRequest, data: SessionData, step: number): Session {
    const preset = presetOf(model);
    return Session.adopt(backend, model, data, { ...request, steps: Math.max(request.steps, step) }, { ...preset, batch: request.batch || preset.batch }, step);
  }

  private static adopt(backend: C.Backend, model: GPT, data: SessionData, request: SetupRequest, preset: { name: string; batch: number }, step: number): Session {
    try {
      return new Session(backend, model, data, request, preset, step);
    } catch (e) {
      model.dispose();
      throw e;
    }
  }

  get steps(): number {
    return this.info.steps;
  }

  get tokensPerStep(): number {
    return this.info.batch * this.info.context;
  }

  /** One training step; the loss is read back (so the time includes the device's work). */
  async trainStep(): Promise<StepRecord> {
    const started = performance.now();
    const lr = lrAt(this.step, this.schedule);
    const T = this.info.context;
    const loss = await C.scope(async () => {
      const b = this.sampler.next();
      const l = this.model.loss(C.tensor(b.inputs, [b.batch, T], { dtype: 'i32', backend: this.backend }));
      C.backward(l);
      this.opt.step({ lr });
      this.model.zeroGrad();
      return l.item();
    });
    this.step++;
    const seconds = (performance.now() - started) / 1000;
    return { step: this.step, loss, lr, tokensPerSecond: Math.round(this.tokensPerStep / seconds) };
  }

  /** The mean loss over the fixed validation windows. */
  async evaluate(): Promise<number> {
    this.model.eval();
    let sum = 0;
    let n = 0;
    try {
      for (const v of this.valIds) {
        sum += (await C.scope(async () => C.noGrad(() => this.model.loss(v.ids)).item())) * v.n;
        n += v.n;
      }
    } finally {
      this.model.train();
    }
    return sum / n;
  }

  /** Continues the prompt; `onText` gets the whole generated text after every token. */
  async sample(req: SampleRequest, onText: (text: string) => void): Promise<string> {
    const tok = this.data.tokenizer;
    let prompt: number[];
    try {
      prompt = tok.encode(req.prompt);
    } catch (e) {
      throw new Error(`the prompt: ${(e as Error).message}`);
    }
    if (!prompt.length) throw new Error('the prompt is empty: give at least one character');
    const ids: number[] = [];
    await sampleTokens(this.model, prompt, {
      tokens: req.tokens, vocabSize: tok.vocabSize, temperature: req.temperature, topK: 40, seed: this.step,
      onToken: (id) => { ids.push(id); onText(tok.decode(ids)); },
    });
    return tok.decode(ids);
  }

  checkpoint(): Promise<CheckpointFile[]> {
    const d = this.data;
    return checkpointFiles(this.model, {
      step: this.step, config: this.info.config, tokenizer: d.tokenizer.spec(),
      data: { corpus: d.corpus.name, trainTokens: d.train.length, valTokens: d.val.length }, backend: this.backend.name,
    });
  }

  dispose(): void {
    this.opt.dispose();
    this.model.dispose();
    for (const v of this.valIds) v.ids.dispose();
  }
}
