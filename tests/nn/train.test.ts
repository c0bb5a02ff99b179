// `pnpm train` end to end at `micro` size with the char tokenizer on the cpu reference: a short run on a
// generated text file lowers the loss, keeps the live-buffer count constant from step to step, writes one
// metrics record per logged step and a checkpoint directory that nn's loader and GPT-2 checks accept;
// missing, empty and too-short data files are refused with their message (the CLI: one line, exit 2).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import * as C from '@cce/core';
import { CheckpointError, GPT, GptFitError, checkGpt2Tensors, drawToken, gpt2DimsFromConfig, gptFromCheckpoint, gptStateDict, loadCheckpoint, readSafetensors } from '@cce/nn';
import { requireBackend, webgpuAvailable } from '../webgpu/support.js';
import { OPTIMIZER_FILE, TRAINING_STATE_FILE, loadRunData, train } from '../../examples/train-gpt/run.js';

const s = suite('nn: train (pnpm train)');
/** The repository root (this file runs from a bundle under .test-build/). */
let root = import.meta.dirname;
while (!existsSync(resolve(root, 'scripts/run-ts.mjs')) && dirname(root) !== root) root = dirname(root);
const dir = mkdtempSync(join(tmpdir(), 'cce-train-'));

/** About 20 KB of varied English-like text (seeded). */
function sampleText(bytes: number, seed: number): string {
  const words = ('the of and to in a is that for it as was with be by on not he this are or his from at which but have an they ' +
    'you were her she there been one all we their has would when if so no will more can out up about what who some into time only ' +
    'new could other than its then two these may first any like now my such our over man me even most made after also did many ' +
    'river mountain garden engine letter window summer question number people morning country history evening picture').split(' ');
  const rng = C.mulberry32(seed);
  const pick = () => words[Math.floor(rng() * words.length)]!;
  let out = '';
  while (out.length < bytes) {
    const n = 4 + Math.floor(rng() * 12);
    const sentence = Array.from({ length: n }, pick).join(' ');
    out += `${sentence[0]!.toUpperCase()}${sentence.slice(1)}${rng() < 0.2 ? '?' : '.'}${rng() < 0.15 ? '\n\n' : ' '}`;
  }
  return out;
}

const textFile = join(dir, 'text.txt');
writeFileSync(textFile, sampleText(20_000, 5));

s('a 30-step micro char run lowers the loss, leaves no buffer behind and writes metrics and a loadable checkpoint', async () => {
  const out = join(dir, 'run');
  const live: number[] = [];
  const lines: string[] = [];
  const r = await train({
    backend: new C.CpuBackend(), config: 'micro', tokenizer: 'char', data: textFile, steps: 30, batch: 4, seed: 3,
    out, evalEvery: 10, logEvery: 10, cacheDir: false, log: (l) => lines.push(l), onStep: (_step, n) => live.push(n),
    flags: { test: true },
  });
  assert.is(r.stepsRun, 30);
  assert.equal(r.records.map((x) => x.step), [1, 10, 20, 30]);
  const first = r.records[0]!.loss;
  const last = r.records[r.records.length - 1]!.loss;
  assert.ok(Number.isFinite(first) && Number.isFinite(last), `losses ${first}, ${last}`);
  assert.ok(last < first - 0.5, `final training loss ${last} is not well below the first ${first}`);
  assert.ok(r.records.slice(1).every((x) => x.valLoss !== undefined && Number.isFinite(x.valLoss)), 'validation loss at steps 10, 20, 30');
  assert.is(r.records[0]!.valLoss, undefined);
  assert.ok(r.records[3]!.valLoss! < r.records[1]!.valLoss!, 'validation loss falls');
  // From the second step on (the first creates the optimizer's state), the count of live buffers is constant,
  // evaluation and checkpoints included.
  assert.is(live.length, 30);
  for (let i = 2; i < live.length; i++) assert.is(live[i], live[1], `live buffers after step ${i + 1}: ${live[i]}, after step 2: ${live[1]}`);
  // Progress lines: one per logged step.
  assert.is(lines.filter((l) => /^step +\d+\/30 +loss \d/.test(l)).length, 4);
  assert.ok(lines.some((l) => /^step 30\/30 .*val \d.*tok\/s/.test(l)), lines.join('\n'));

  // The loss curve: one SVG with a train and a validation line.
  const svg = readFileSync(r.curveFile, 'utf8');
  assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.is((svg.match(/<polyline /g) ?? []).length, 2, 'a train and a validation polyline');
  const metrics = readFileSync(r.metricsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; loss: number; valLoss?: number });
  assert.equal(metrics.map((m) => m.step), [1, 10, 20, 30]);
  assert.equal(metrics.map((m) => m.loss), r.records.map((x) => x.loss));

  const ckpt = await loadCheckpoint(r.checkpointDir);
  const dims = gpt2DimsFromConfig(ckpt.config);
  assert.equal({ ...dims, vocabSize: 0 }, { vocabSize: 0, nPositions: 64, nEmbd: 64, nLayer: 2, nHead: 2 });
  checkGpt2Tensors(ckpt.tensors, dims);
  assert.is(ckpt.metadata.format, 'pt');
  const state = ckpt.state[TRAINING_STATE_FILE] as Record<string, any>;
  assert.is(state.step, 30);
  assert.is(state.optimizer.step, 30);
  assert.is(state.optimizer.file, OPTIMIZER_FILE);
  assert.equal(state.sampler, { seed: 3, drawn: 30 });
  assert.ok(Array.isArray(state.dropout) && state.dropout.length > 0 && state.dropout.every(Number.isSafeInteger), JSON.stringify(state.dropout));
  assert.is(state.tokenizer.kind, 'char');
  assert.is(state.flags.test, true);
  assert.is(state.schedule.warmupSteps, 3);
  // The weights load back into a GPT and give the last validation loss again.
  const backend = new C.CpuBackend();
  const data = await loadRunData({ data: textFile, tokenizer: 'char', config: 'micro', cacheDir: false });
  assert.is(data.tokenizer.modelVocabSize, dims.vocabSize);
  const model = new GPT({ vocabSize: dims.vocabSize, contextLength: 64, layers: 2, heads: 2, dim: 64 }, { backend });
  model.loadStateDict(gptStateDict(ckpt.tensors));
  const wte = ckpt.tensors.get('transformer.wte.weight')!;
  assert.equal(Array.from((await model.wte.weight.read()).slice(0, 8)), Array.from(wte.data.slice(0, 8) as Float32Array));
  model.dispose();
});

s('a missing, empty or too-short data file is refused with its message (the CLI: one line, exit 2)', async () => {
  const empty = join(dir, 'empty.txt');
  const short = join(dir, 'short.txt');
  writeFileSync(empty, '');
  writeFileSync(short, 'Too short for one context of sixty-four characters.');
  const load = (data: string) => loadRunData({ data, tokenizer: 'char', config: 'micro', cacheDir: false });
  try {
    await load(join(dir, 'nope.txt'));
    assert.unreachable('a missing file was accepted');
  } catch (e) {
    assert.match((e as Error).message, /nope\.txt: not found/);
  }
  try {
    await load(empty);
    assert.unreachable('an empty file was accepted');
  } catch (e) {
    assert.match((e as Error).message, /empty/);
  }
  try {
    await load(short);
    assert.unreachable('a too-short file was accepted');
  } catch (e) {
    assert.match((e as Error).message, /short\.txt|tokens|context/);
  }
  const p = spawnSync(process.execPath, [join(root, 'scripts/run-ts.mjs'), 'examples/train-gpt.ts', '--backend', 'cpu', '--data', short, '--out', join(dir, 'cli')],
    { cwd: root, encoding: 'utf8', env: { ...process.env, CCE_CACHE_DIR: join(dir, 'cache') } });
  assert.is(p.status, 1, `exit ${p.status}; stderr: ${p.stderr}`);
  const err = p.stderr.trim().split('\n');
  assert.is(err.length, 1, p.stderr);
  assert.match(err[0]!, /^pnpm train: .*short\.txt/);
  const bad = spawnSync(process.execPath, [join(root, 'scripts/run-ts.mjs'), 'examples/train-gpt.ts', '--config', 'huge'], { cwd: root, encoding: 'utf8' });
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /--config: expected one of micro, tiny, small, got 'huge'/);
});

s('--steps 16 equals --steps 16 --stop-after 8 resumed to the end, bitwise on the cpu reference', async () => {
  const run = (out: string, extra: { stopAfter?: number; resume?: boolean }) => train({
    backend: new C.CpuBackend(), config: 'micro', tokenizer: 'char', data: textFile, steps: 16, batch: 2, seed: 11,
    out, evalEvery: 8, logEvery: 1, cacheDir: false, ...extra,
  });
  const whole = join(dir, 'whole');
  const split = join(dir, 'split');
  await run(whole, {});
  const first = await run(split, { stopAfter: 8 });
  assert.is(first.stepsRun, 8);
  const lines: string[] = [];
  const second = await train({
    backend: new C.CpuBackend(), config: 'micro', tokenizer: 'char', data: textFile, steps: 16, batch: 2, seed: 11,
    out: split, evalEvery: 8, logEvery: 1, cacheDir: false, resume: true, log: (l) => lines.push(l),
  });
  assert.is(second.startStep, 8);
  assert.is(second.stepsRun, 8);
  assert.ok(lines.some((l) => /resumed from .* at step 8 of 16/.test(l)), lines.join('\n'));
  const metrics = (out: string) => readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n')
    .map((l) => JSON.parse(l) as Record<string, number>).map(({ step, loss, lr, gradNorm, valLoss }) => ({ step, loss, lr, gradNorm, valLoss }));
  const a = metrics(whole);
  assert.is(a.length, 16);
  assert.equal(metrics(split), a);
  assert.equal(second.records.map((r) => r.step), a.map((r) => r.step));
  for (const f of ['model.safetensors', OPTIMIZER_FILE]) {
    assert.ok(readFileSync(join(whole, 'checkpoint', f)).equals(readFileSync(join(split, 'checkpoint', f))), `${f} differs between the whole and the resumed run`);
  }
});

s('a run refuses to replace a checkpoint, resumes only with matching settings, and a corrupt checkpoint is refused untouched', async () => {
  const out = join(dir, 'guarded');
  const opts = { backend: new C.CpuBackend(), config: 'micro' as const, tokenizer: 'char' as const, data: textFile, steps: 8, batch: 2, seed: 4, out, evalEvery: 4, cacheDir: false as const };
  await train({ ...opts, stopAfter: 4 });
  const refused = async (p: Promise<unknown>, pattern: RegExp) => {
    try {
      await p;
      assert.unreachable(`accepted; expected ${pattern}`);
    } catch (e) {
      assert.instance(e, Error);
      assert.match((e as Error).message, pattern);
    }
  };
  await refused(train(opts).catch((e) => { assert.instance(e, CheckpointError); throw e; }), /already holds a checkpoint: continue it with --resume, start over with --overwrite/);
  await refused(train({ ...opts, batch: 3, resume: true }), /differs from the checkpoint's: --batch 3 \(the checkpoint's: 2\)/);
  await refused(train({ ...opts, steps: 9, resume: true }), /--steps 9 \(the checkpoint's: 8\)/);
  const ckptFiles = () => Object.fromEntries(readdirSync(join(out, 'checkpoint')).map((f) => [f, readFileSync(join(out, 'checkpoint', f))]));
  const metricsBefore = readFileSync(join(out, 'metrics.jsonl'));
  // Truncate the optimizer's file, then the model's: each is refused by name, and nothing is written.
  const optFile = join(out, 'checkpoint', OPTIMIZER_FILE);
  const modelFile = join(out, 'checkpoint', 'model.safetensors');
  const intact = { opt: readFileSync(optFile), model: readFileSync(modelFile) };
  writeFileSync(optFile, intact.opt.subarray(0, intact.opt.length - 5));
  const cut = ckptFiles();
  await refused(train({ ...opts, resume: true }), /optimizer\.safetensors/);
  assert.equal(ckptFiles(), cut);
  writeFileSync(optFile, intact.opt);
  writeFileSync(modelFile, intact.model.subarray(0, 100));
  await refused(train({ ...opts, resume: true }), /model\.safetensors/);
  assert.ok(readFileSync(join(out, 'metrics.jsonl')).equals(metricsBefore), 'metrics.jsonl was rewritten by a refused resume');
  writeFileSync(modelFile, intact.model);
  const resumed = await train({ ...opts, resume: true });
  assert.is(resumed.startStep, 4);
  assert.is(resumed.stepsRun, 4);
  // The CLI says the same in one line (exit 1), and --resume takes the checkpoint's settings.
  const cli = (...a: string[]) => spawnSync(process.execPath, [join(root, 'scripts/run-ts.mjs'), 'examples/train-gpt.ts', '--backend', 'cpu', '--out', out, ...a],
    { cwd: root, encoding: 'utf8', env: { ...process.env, CCE_CACHE_DIR: join(dir, 'cache') } });
  const again = cli('--data', textFile, '--steps', '8');
  assert.is(again.status, 1, again.stderr);
  assert.match(again.stderr, /^pnpm train: .*already holds a checkpoint/);
  const done = cli('--resume', '--log-every', '1');
  assert.is(done.status, 0, done.stderr);
  assert.match(done.stdout, /resuming .*checkpoint: step 8 of 8, config micro, tokenizer char/);
});

s('pnpm sample continues a prompt from a checkpoint, the same for the same seed, and writes logits for PyTorch', async () => {
  const ckpt = join(dir, 'whole', 'checkpoint');
  const sample = (...a: string[]) => spawnSync(process.execPath, [join(root, 'scripts/run-ts.mjs'), 'examples/sample.ts', '--backend', 'cpu', '--ckpt', ckpt, ...a], { cwd: root, encoding: 'utf8' });
  const one = sample('--prompt', 'The river', '--tokens', '24', '--seed', '7', '--top-k', '10');
  assert.is(one.status, 0, one.stderr);
  assert.ok(one.stdout.startsWith('The river'), one.stdout);
  assert.is(one.stdout.trimEnd().length > 'The river'.length, true, one.stdout);
  const chars = new Set(readFileSync(textFile, 'utf8'));
  for (const c of one.stdout.slice(0, -1)) assert.ok(chars.has(c), `sampled ${JSON.stringify(c)}, not in the corpus`);
  assert.is(sample('--prompt', 'The river', '--tokens', '24', '--seed', '7', '--top-k', '10').stdout, one.stdout);
  const bad = sample('--prompt', 'The \u00e9t\u00e9');
  assert.is(bad.status, 1);
  assert.match(bad.stderr, /^pnpm sample: --prompt: char tokenizer: character "\u00e9"/);
  const missing = sample('--ckpt', join(dir, 'nowhere'));
  assert.is(missing.status, 1);
  assert.match(missing.stderr, /no such directory/);

  const file = join(dir, 'logits.safetensors');
  const w = sample('--write-logits', file, '--seed', '3');
  assert.is(w.status, 0, w.stderr);
  const { tensors, metadata } = await readSafetensors(file);
  assert.is(metadata.format, 'pt');
  const ids = tensors.get('input_ids')!;
  const logits = tensors.get('logits')!;
  assert.equal(ids.shape, [2, 64]);
  assert.is(logits.shape.length, 3);
  assert.equal(logits.shape.slice(0, 2), [2, 64]);
  // The file's logits are the model's: recompute the last position of the second row in-process.
  const model = gptFromCheckpoint(await loadCheckpoint(ckpt), { backend: new C.CpuBackend() });
  const V = logits.shape[2]!;
  const row = await model.logits(C.tensor(Array.from(ids.data.slice(64, 128) as Int32Array), [1, 64], { dtype: 'i32', backend: model.wte.weight.backend })).read();
  const fromFile = (logits.data as Float32Array).subarray((2 * 64 - 1) * V, 2 * 64 * V);
  for (let j = 0; j < V; j++) assert.ok(Math.abs(row[j]! - fromFile[j]!) <= 1e-5 * (1 + Math.abs(row[j]!)), `logit ${j}: ${row[j]} vs ${fromFile[j]}`);
  model.dispose();
});

s('a config whose step tensors exceed the device is refused before anything is written, naming the tensor', async () => {
  const out = join(dir, 'too-big');
  // micro at batch 8 with the composed attention: its scores [8, 2, 64, 64] take 262144 bytes.
  const backend = new C.CpuBackend({ maxStorageBufferBindingSize: 200_000 });
  try {
    await train({ backend, config: 'micro', attention: 'composed', tokenizer: 'char', data: textFile, steps: 4, batch: 8, out, evalEvery: 2, cacheDir: false });
    assert.unreachable('a step past the binding limit was accepted');
  } catch (e) {
    assert.instance(e, GptFitError);
    assert.match((e as Error).message, /attention scores \[8, 2, 64, 64\] takes 262144 bytes, more than the largest storage binding of backend 'cpu' \(200000 bytes\); a smaller --batch/);
  }
  assert.not.ok(existsSync(out), 'the run directory was created');
});

s('drawToken never draws a padding id, whatever its logit, and follows temperature and top-k', () => {
  const logits = [1, 3, 2, 0, 50, 60]; // ids 4 and 5 are padding (vocabulary 4)
  const rng = C.mulberry32(1);
  const counts = [0, 0, 0, 0, 0, 0];
  for (let i = 0; i < 4000; i++) counts[drawToken(logits, { vocabSize: 4 }, rng)]!++;
  assert.is(counts[4]! + counts[5]!, 0);
  // Softmax of [1, 3, 2, 0]: about 0.087, 0.644, 0.237, 0.032.
  assert.ok(Math.abs(counts[1]! / 4000 - 0.644) < 0.03, `id 1 drawn ${counts[1]} of 4000`);
  assert.is(drawToken(logits, { vocabSize: 4, temperature: 0 }, rng), 1);
  for (let i = 0; i < 200; i++) assert.ok([1, 2].includes(drawToken(logits, { vocabSize: 4, topK: 2 }, rng)));
  assert.is(drawToken([NaN, NaN, 0.5], { vocabSize: 3 }, rng), 2);
  assert.throws(() => drawToken([NaN, NaN], { vocabSize: 2 }, rng), /every logit .* is NaN/);
});

s.after(() => rmSync(dir, { recursive: true, force: true }));
s.run();

if (await webgpuAvailable('nn: train')) {
  const w = suite('nn: train on webgpu');
  w('a BPE smoke run (micro, Brown corpus, GPT-2 BPE: 50304 classifier rows) trains 3 steps and checkpoints', async () => {
    const out = join(dir, 'bpe');
    const r = await train({
      backend: await requireBackend(), config: 'micro', tokenizer: 'bpe', steps: 3, batch: 8, seed: 2, out, evalEvery: 3, logEvery: 1,
      cacheDir: join(dir, 'cache'),
    });
    assert.equal(r.records.map((x) => x.step), [1, 2, 3]);
    // At init the loss is near ln(50304) = 10.83; three AdamW steps at the warmup's lr barely move it.
    for (const x of r.records) assert.ok(Math.abs(x.loss - Math.log(50304)) < 0.5, `loss ${x.loss} at step ${x.step}`);
    assert.ok(Number.isFinite(r.records[2]!.valLoss!), `validation ${r.records[2]!.valLoss}`);
    const state = (await loadCheckpoint(r.checkpointDir)).state[TRAINING_STATE_FILE] as { tokenizer: { kind: string }; data: { trainTokens: number } };
    assert.is(state.tokenizer.kind, 'bpe');
    assert.is(state.data.trainTokens, 1_206_362);
  });
  w.run();
}
