// `pnpm train` end to end at `micro` size with the char tokenizer on the cpu reference: a short run on a
// generated text file lowers the loss, keeps the live-buffer count constant from step to step, writes one
// metrics record per logged step and a checkpoint directory that nn's loader and GPT-2 checks accept;
// missing, empty and too-short data files are refused with their message (the CLI: one line, exit 2).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import * as C from '@cce/core';
import { GPT, checkGpt2Tensors, gpt2DimsFromConfig, loadCheckpoint } from '@cce/nn';
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
  model.loadStateDict(new Map([...ckpt.tensors].map(([name, t]) => [name.replace(/^transformer\./, ''), { shape: t.shape, data: t.data as Float32Array, dtype: t.dtype }])));
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
  assert.is(p.status, 2, `exit ${p.status}; stderr: ${p.stderr}`);
  const err = p.stderr.trim().split('\n');
  assert.is(err.length, 1, p.stderr);
  assert.match(err[0]!, /^pnpm train: .*short\.txt/);
  const bad = spawnSync(process.execPath, [join(root, 'scripts/run-ts.mjs'), 'examples/train-gpt.ts', '--config', 'huge'], { cwd: root, encoding: 'utf8' });
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /--config: expected one of micro, tiny, small, got 'huge'/);
});

s.after(() => rmSync(dir, { recursive: true, force: true }));
s.run();
