// The training loop of `pnpm train` as a function (the CLI in examples/train-gpt.ts is a thin wrapper and
// the test calls it directly): data through nn's prepareData, a GPT from a preset, AdamW with device-side
// clipping, warmup then cosine, random training windows, the mean validation loss over 40 fixed windows
// every `evalEvery` steps, metrics as JSONL and an atomic checkpoint directory in `out`.
import * as C from '@cce/core';
import type { Backend } from '@cce/core';
import {
  AdamW, type AttentionKind, defaultAttention, BatchSampler, CONFIG_FILE, CheckpointError, GPT, MODEL_FILE, type GPTPresetName, type TokenData, checkGpt2Tensors, checkGptFits, gpt2Config, gpt2DimsOf, gpt2Name, gptStateDict,
  TRAINING_STATE_FILE, gptConfig, gptParameterCount, lrAt, prepareData, validationBatches, writeCheckpointDir,
} from '@cce/nn';
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { trainingCurveSvg } from './loss-curve.js';
import { type Progress, formatDuration } from './progress.js';
import { OPTIMIZER_FILE, type ResumePoint, STATE_FORMAT, type TrainingState, readResumePoint, savedAttention } from './resume.js';

export { OPTIMIZER_FILE } from './resume.js';
export { TRAINING_STATE_FILE } from '@cce/nn';

export interface TrainOptions {
  backend: Backend;
  config: GPTPresetName;
  tokenizer: 'bpe' | 'char';
  /** The model's attention (default 'fused'). */
  attention?: AttentionKind;
  /** A UTF-8 text file; default the Brown corpus. */
  data?: string;
  /** The schedule's length. */
  steps: number;
  /** Stop after this many steps (the schedule unchanged). */
  stopAfter?: number;
  /** Windows per batch; default the preset's. */
  batch?: number;
  lr?: number;
  seed?: number;
  out: string;
  /** Validation (and a checkpoint) every this many steps, and at the end. */
  evalEvery: number;
  /** A progress line and a metrics record every this many steps (and at the first and the last). */
  logEvery?: number;
  /** The token cache (see nn's prepareData); default nn's. */
  cacheDir?: string | false;
  log?: (line: string) => void;
  /** A progress bar, updated every step (its `log` should be `log`, so lines and bar share a stream). */
  progress?: Progress;
  /** Continue from the checkpoint in `out` (its step, optimizer, sampler and dropout state); the run's
   *  settings must match the checkpoint's. */
  resume?: boolean;
  /** Start over even though `out` holds a checkpoint (it is replaced at the first evaluation). */
  overwrite?: boolean;
  /** The command line's flags, recorded in the training state. */
  flags?: Record<string, unknown>;
  /** Called after each step with the backend's live-buffer count (the test checks it is stable). */
  onStep?: (step: number, liveBuffers: number) => void;
}

export interface MetricsRecord {
  step: number;
  steps: number;
  loss: number;
  lr: number;
  gradNorm: number;
  tokensPerSecond: number;
  elapsedSeconds: number;
  valLoss?: number;
}

export interface TrainResult {
  /** Every record of the run, those before a resumed checkpoint included. */
  records: MetricsRecord[];
  metricsFile: string;
  /** The loss curve (train and validation against step), rewritten at every evaluation. */
  curveFile: string;
  checkpointDir: string;
  parameters: number;
  /** Steps run by this call (a resumed run counts from its checkpoint). */
  stepsRun: number;
  /** The step this call started from (0, or the resumed checkpoint's). */
  startStep: number;
  /** Training tokens over training wall time (evaluation and checkpoints excluded). */
  tokensPerSecond: number;
}


/** The data for a run (an error's message is one line naming the file and what is wrong). */
export async function loadRunData(opts: Pick<TrainOptions, 'data' | 'tokenizer' | 'config' | 'cacheDir'>): Promise<TokenData> {
  const context = gptConfig(opts.config, 1).contextLength;
  return prepareData({ data: opts.data, tokenizer: opts.tokenizer, context, cacheDir: opts.cacheDir });
}

export async function train(opts: TrainOptions, preloaded?: TokenData): Promise<TrainResult> {
  const log = opts.log ?? (() => {});
  const backend = opts.backend;
  const seed = opts.seed ?? 1337;
  const maxLr = opts.lr ?? 1e-3;
  const steps = opts.steps;
  const stopAt = Math.min(steps, opts.stopAfter ?? steps);
  const logEvery = Math.max(1, opts.logEvery ?? 10);
  const data = preloaded ?? (await loadRunData(opts));
  const attention = opts.attention ?? defaultAttention();
  const cfg = gptConfig(opts.config, data.tokenizer.modelVocabSize, { attention });
  const batch = opts.batch ?? cfg.batchSize;
  const T = cfg.contextLength;
  const schedule = { warmupSteps: Math.min(100, Math.floor(steps / 10)), totalSteps: steps, maxLr, minLr: maxLr / 10 };

  checkGptFits(cfg, batch, backend);
  const out = resolve(opts.out);
  const metricsFile = join(out, 'metrics.jsonl');
  const curveFile = join(out, 'loss-curve.svg');
  const checkpointDir = join(out, 'checkpoint');
  let resumed: ResumePoint | undefined;
  if (opts.resume) {
    resumed = await readResumePoint(checkpointDir);
    checkResumable(resumed.state, { config: opts.config, attention, steps, batch, seed, maxLr, data, file: opts.data ?? null });
  } else if (existsSync(join(checkpointDir, TRAINING_STATE_FILE)) && !opts.overwrite) {
    throw new CheckpointError(`${out} already holds a checkpoint: continue it with --resume, start over with --overwrite, or pick another --out`);
  }
  const startStep = resumed?.state.step ?? 0;
  mkdirSync(out, { recursive: true });
  const records: MetricsRecord[] = resumed ? readMetrics(metricsFile).filter((r) => r.step <= startStep) : [];
  // A resumed run drops the records logged after its checkpoint (a crash can leave some).
  writeFileSync(metricsFile, records.map((r) => `${JSON.stringify(r)}\n`).join(''));

  const prev = C.getBackendOrNull();
  C.setBackend(backend);
  const model = new GPT(cfg, { seed, backend });
  const opt = new AdamW(model.parameters(), { lr: maxLr, beta1: 0.9, beta2: 0.99, weightDecay: 0.1, maxGradNorm: 1.0 });
  const sampler = new BatchSampler(data.train, T, batch, resumed?.state.sampler ?? seed);
  if (resumed) {
    const names = [...model.namedParameters().keys()];
    if (names.join() !== resumed.state.optimizer.parameters.join()) {
      throw new CheckpointError(`--resume: the checkpoint's optimizer covers other parameters than the model's (${resumed.state.optimizer.parameters.length} vs ${names.length})`);
    }
    checkGpt2Tensors(resumed.model.tensors, gpt2DimsOf(cfg));
    model.loadStateDict(gptStateDict(resumed.model.tensors));
    opt.loadState({ step: resumed.state.optimizer.step, m: resumed.m, v: resumed.v });
    model.setDropoutState(resumed.state.dropout);
    log(`resumed from ${checkpointDir} at step ${startStep} of ${steps}`);
  }
  const valTensors = validationBatches(data.val, T, batch).map((b) => ({ ids: C.keep(C.tensor(b.inputs, [b.batch, T], { dtype: 'i32', backend })), n: b.batch }));
  const parameters = gptParameterCount(cfg);
  log(`model: ${opts.config} (${cfg.layers} layers, ${cfg.heads} heads, d=${cfg.dim}, context ${T}, vocab ${cfg.vocabSize}), ` +
    `${(parameters / 1e6).toFixed(2)}M parameters; data: ${data.corpus}, ${data.tokenizer.kind} tokenizer (${data.tokenizer.vocabSize} ids), ` +
    `${data.train.length} training and ${data.val.length} validation tokens${data.cached ? ' (cached)' : ''}` +
    `${data.cacheEntry ? `; token cache ${data.cacheEntry}` : ''}`);
  log(`training: ${stopAt < steps ? `${stopAt} of ` : ''}${steps} steps, batch ${batch} x ${T} tokens, lr ${maxLr} (warmup ${schedule.warmupSteps}, cosine to ${schedule.minLr}), seed ${seed}`);

  const evaluate = async (): Promise<number> => {
    model.eval();
    let sum = 0;
    let n = 0;
    try {
      for (const v of valTensors) {
        sum += (await C.scope(async () => C.noGrad(() => model.loss(v.ids)).item())) * v.n;
        n += v.n;
      }
    } finally {
      model.train();
    }
    return sum / n;
  };

  const save = async (step: number) => {
    const weights = await model.stateDictData();
    const host = await opt.hostState();
    const names = [...model.namedParameters().keys()];
    const optTensors = new Map<string, { dtype: 'F32'; shape: number[]; data: Float32Array }>();
    names.forEach((name, i) => {
      const shape = [...weights.get(name)!.shape];
      optTensors.set(`m.${name}`, { dtype: 'F32', shape, data: Float32Array.from(host.m[i]!) });
      optTensors.set(`v.${name}`, { dtype: 'F32', shape, data: Float32Array.from(host.v[i]!) });
    });
    const tensors = new Map([...weights].map(([name, t]) => [gpt2Name(name), t]));
    const state: TrainingState = {
      format: STATE_FORMAT,
      step,
      steps,
      config: opts.config,
      attention,
      batch,
      seed,
      schedule,
      optimizer: { file: OPTIMIZER_FILE, step: host.step, lr: opt.lr, beta1: opt.beta1, beta2: opt.beta2, eps: opt.eps, weightDecay: opt.weightDecay, maxGradNorm: opt.maxGradNorm ?? null, parameters: names },
      sampler: sampler.state(),
      dropout: model.dropoutState(),
      tokenizer: data.tokenizer.spec(),
      data: {
        corpus: data.corpus, file: opts.data === undefined ? null : resolve(opts.data), trainTokens: data.train.length, valTokens: data.val.length,
        tokenCache: data.cacheEntry ?? null,
      },
      flags: opts.flags ?? {},
    };
    // nn's saveCheckpoint writes model.safetensors, config.json and JSON files; the optimizer's moments
    // go into a second safetensors file (JSON would hold hundreds of MB for `small`), so the same atomic
    // directory writer is called here with one file more.
    await writeCheckpointDir(checkpointDir, (w) => {
      w.safetensors(MODEL_FILE, tensors, { format: 'pt' });
      w.json(CONFIG_FILE, gpt2Config(gpt2DimsOf(cfg)));
      w.safetensors(OPTIMIZER_FILE, optTensors, { format: 'cce-adamw-v1' });
      w.json(TRAINING_STATE_FILE, state);
    });
  };

  const started = performance.now();
  let trainMs = 0;
  let intervalStart = performance.now();
  let intervalTokens = 0;
  let stepsRun = 0;
  try {
    for (let i = startStep; i < stopAt; i++) {
      const step = i + 1;
      const lr = lrAt(i, schedule);
      const logNow = step === 1 || step % logEvery === 0 || step === stopAt || step % opts.evalEvery === 0;
      const read = await C.scope(async () => {
        const b = sampler.next();
        const ids = C.tensor(b.inputs, [batch, T], { dtype: 'i32', backend });
        const loss = model.loss(ids);
        C.backward(loss);
        opt.step({ lr });
        model.zeroGrad();
        if (!logNow) return null;
        return { loss: await loss.item(), gradNorm: await opt.gradNorm!.item() };
      });
      intervalTokens += batch * T;
      stepsRun = step - startStep;
      opts.onStep?.(step, backend.memory().liveBuffers);
      const last = records[records.length - 1];
      if (!read) {
        if (last && opts.progress) {
          const msPerStep = (trainMs + performance.now() - intervalStart) / stepsRun;
          opts.progress.update(step, { loss: last.loss, tokensPerSecond: last.tokensPerSecond, etaSeconds: ((stopAt - step) * msPerStep) / 1000 });
        }
        continue;
      }
      // Wall time since the last logged step, evaluation and checkpoints excluded (the read waited for the device).
      const ms = performance.now() - intervalStart;
      trainMs += ms;
      const tps = intervalTokens / (ms / 1000);
      intervalTokens = 0;
      const rec: MetricsRecord = {
        step, steps, loss: read.loss, lr, gradNorm: read.gradNorm, tokensPerSecond: Math.round(tps),
        elapsedSeconds: Math.round((performance.now() - started) / 10) / 100,
      };
      const doEval = step % opts.evalEvery === 0 || step === stopAt;
      if (doEval) rec.valLoss = await evaluate();
      const eta = ((stopAt - step) * trainMs) / (step - startStep) / 1000;
      log(`step ${String(step).padStart(String(steps).length)}/${steps}  loss ${read.loss.toFixed(4)}` +
        `${rec.valLoss !== undefined ? `  val ${rec.valLoss.toFixed(4)}` : ''}  lr ${lr.toExponential(2)}  ` +
        `${Math.round(tps).toLocaleString('en-US')} tok/s  ETA ${formatDuration(eta)}`);
      records.push(rec);
      opts.progress?.update(step, { loss: rec.loss, tokensPerSecond: rec.tokensPerSecond, etaSeconds: eta });
      appendFileSync(metricsFile, `${JSON.stringify(rec)}\n`);
      if (doEval) {
        await save(step);
        writeFileAtomic(curveFile, trainingCurveSvg(records, `${opts.config} GPT on ${data.corpus} (${data.tokenizer.kind}): loss against step`));
      }
      intervalStart = performance.now();
    }
  } finally {
    opts.progress?.done();
    opt.dispose();
    model.dispose();
    for (const v of valTensors) v.ids.dispose();
    C.setBackend(prev);
  }
  const tokensPerSecond = stepsRun ? (stepsRun * batch * T) / (trainMs / 1000) : 0;
  return { records, metricsFile, curveFile, checkpointDir, parameters, stepsRun, startStep, tokensPerSecond };
}

/** Writes a temporary file beside `file`, then renames it over `file` (a reader never sees half a file). */
function writeFileAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

function readMetrics(file: string): MetricsRecord[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as MetricsRecord);
}

/** Refuses to resume a checkpoint with settings that would make a different run. */
function checkResumable(st: TrainingState, run: { config: string; attention: AttentionKind; steps: number; batch: number; seed: number; maxLr: number; data: TokenData; file: string | null }): void {
  const diffs: string[] = [];
  const same = (what: string, ours: unknown, theirs: unknown) => {
    if (JSON.stringify(ours) !== JSON.stringify(theirs)) diffs.push(`${what} ${JSON.stringify(ours)} (the checkpoint's: ${JSON.stringify(theirs)})`);
  };
  same('--config', run.config, st.config);
  same('--attention', run.attention, savedAttention(st));
  same('--steps', run.steps, st.steps);
  same('--batch', run.batch, st.batch);
  same('--seed', run.seed, st.seed);
  same('--lr', run.maxLr, st.schedule.maxLr);
  same('--data', run.file === null ? null : resolve(run.file), st.data.file === null ? null : resolve(st.data.file));
  same('tokenizer', run.data.tokenizer.spec(), st.tokenizer);
  same('training tokens', run.data.train.length, st.data.trainTokens);
  if (diffs.length) throw new CheckpointError(`--resume: this run differs from the checkpoint's: ${diffs.join('; ')}`);
}
