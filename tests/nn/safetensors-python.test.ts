// Our safetensors files read by an independent parser: tests/support/read_safetensors.py (Python standard
// library only) reads a real GPT checkpoint and a file of F32, I32 and I64 tensors written by nn, and
// must find the names, dtypes, shapes and values we wrote; corrupted files must be refused by both it and
// our reader. Without python3 the suite fails under CI and is skipped (with a line saying so) elsewhere.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import * as C from '@cce/core';
import {
  GPT, MODEL_FILE, SafetensorsError, type SafetensorsTensor, decodeSafetensors, encodeSafetensors, gpt2Config, gpt2Name,
  readSafetensors, saveCheckpoint,
} from '@cce/nn';
import { rawFile } from '../support/safetensors-files.js';

const s = suite('nn: safetensors read by Python');
/** The repository root (this file runs from a bundle under .test-build/). */
let root = import.meta.dirname;
while (!existsSync(resolve(root, 'tests/support/read_safetensors.py')) && dirname(root) !== root) root = dirname(root);
const parser = join(root, 'tests/support/read_safetensors.py');
const work = mkdtempSync(join(tmpdir(), 'cce-st-python-'));

interface Parsed {
  metadata: Record<string, string>;
  tensors: Record<string, { dtype: string; shape: number[]; sum?: number; first?: number[] }>;
}

const probe = spawnSync('python3', ['--version'], { encoding: 'utf8' });
const havePython = !probe.error && probe.status === 0;

/** Runs the parser on a file: the exit status, its JSON (when 0) and stderr. */
function python(file: string): { status: number | null; parsed?: Parsed; stderr: string } {
  const r = spawnSync('python3', [parser, file], { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  return { status: r.status, parsed: r.status === 0 ? (JSON.parse(r.stdout) as Parsed) : undefined, stderr: r.stderr };
}

/** What Python must report for `t`: the float sum and the first 4 values (I64 as numbers). */
function expected(t: SafetensorsTensor): { sum: number; first: number[] } {
  const values = Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
  return { sum: values.reduce((a, b) => a + b, 0), first: values.slice(0, 4) };
}

function compare(file: string, tensors: Map<string, SafetensorsTensor>, metadata: Record<string, string>): void {
  const r = python(file);
  assert.is(r.status, 0, `python refused ${file}: ${r.stderr}`);
  const got = r.parsed!;
  assert.equal(got.metadata, metadata);
  assert.equal(Object.keys(got.tensors).sort(), [...tensors.keys()].sort());
  for (const [name, t] of tensors) {
    const p = got.tensors[name]!;
    assert.is(p.dtype, t.dtype, name);
    assert.equal(p.shape, t.shape, name);
    const e = expected(t);
    // Both sides sum the same f32 / integer values in f64 (Python with fsum): equal to rounding.
    assert.ok(Math.abs(p.sum! - e.sum) <= 1e-6 * Math.max(1, Math.abs(e.sum)), `${name}: sum ${p.sum} vs ${e.sum}`);
    assert.equal(p.first, e.first, name);
  }
}

/** Both readers refuse `bytes`: Python exits 1 with a message, decodeSafetensors throws a SafetensorsError. */
function bothRefuse(label: string, bytes: Uint8Array): void {
  const file = join(work, `${label}.safetensors`);
  writeFileSync(file, bytes);
  const r = python(file);
  assert.is(r.status, 1, `${label}: python exited ${r.status} (stderr: ${r.stderr})`);
  assert.match(r.stderr, /^read_safetensors: /, label);
  assert.throws(() => decodeSafetensors(bytes, file), (e: unknown) => e instanceof SafetensorsError, `${label}: our reader accepted it`);
}

s('python3 is there (required under CI)', () => {
  if (!havePython && process.env.CI) assert.unreachable(`python3 is not runnable under CI: ${probe.error?.message ?? probe.stderr}`);
  if (!havePython) console.log('  (python3 not found: the safetensors-python checks are skipped outside CI)');
});

s('a GPT checkpoint written by nn: Python reads the GPT-2 names, shapes and values we wrote', async () => {
  if (!havePython) return;
  const cpu = new C.CpuBackend();
  const cfg = { vocabSize: 40, contextLength: 8, layers: 1, heads: 2, dim: 16 };
  const model = new GPT(cfg, { seed: 7, backend: cpu });
  try {
    const weights = await model.stateDictData();
    const tensors = new Map<string, SafetensorsTensor>([...weights].map(([name, t]) => [gpt2Name(name), t as SafetensorsTensor]));
    const dir = join(work, 'ckpt');
    await saveCheckpoint(dir, {
      tensors,
      config: gpt2Config({ vocabSize: 40, nPositions: 8, nEmbd: 16, nLayer: 1, nHead: 2 }),
    });
    const file = join(dir, MODEL_FILE);
    compare(file, tensors, { format: 'pt' });
    // Our reader agrees with what was written, and the names are the GPT-2 ones.
    const back = await readSafetensors(file);
    assert.equal([...back.tensors.keys()].sort(), [...tensors.keys()].sort());
    assert.ok(back.tensors.has('transformer.h.0.attn.c_attn.weight'));
    assert.equal(back.tensors.get('transformer.h.0.mlp.c_fc.weight')!.shape, [16, 64]); // Conv1D [in, out]
  } finally {
    model.dispose();
  }
});

const mixed = new Map<string, SafetensorsTensor>([
  ['weights', { dtype: 'F32', shape: [2, 3], data: new Float32Array([0.5, -1.25, 3.1415927, 1e-8, -7, 100.0625]) }],
  ['empty', { dtype: 'F32', shape: [0, 5], data: new Float32Array(0) }],
  ['scalar', { dtype: 'F32', shape: [], data: new Float32Array([2.5]) }],
  ['ids', { dtype: 'I32', shape: [5], data: new Int32Array([-2147483648, 2147483647, 0, -1, 42]) }],
  ['step', { dtype: 'I64', shape: [2], data: new BigInt64Array([123456789012n, -5n]) }],
]);
const mixedMeta = { format: 'pt', note: 'written by nn', 'é-key': 'ünïcode ✓' };

s('F32, I32 and I64 tensors with a zero-sized one, a scalar and metadata: Python reads what we wrote', () => {
  if (!havePython) return;
  const file = join(work, 'mixed.safetensors');
  writeFileSync(file, encodeSafetensors(mixed, mixedMeta));
  compare(file, mixed, mixedMeta);
});

s('corrupted files: truncated data, header length past the end, overlapping offsets are refused by both', () => {
  if (!havePython) return;
  const good = encodeSafetensors(mixed, mixedMeta);
  const valid = join(work, 'valid.safetensors');
  writeFileSync(valid, good);
  assert.is(python(valid).status, 0); // the refusals below are about the damage, not the file
  bothRefuse('truncated-data', good.subarray(0, good.length - 3));
  bothRefuse('truncated-header', good.subarray(0, 40));
  const pastEnd = new Uint8Array(good);
  new DataView(pastEnd.buffer).setBigUint64(0, BigInt(good.length), true); // N larger than the file
  bothRefuse('header-length-past-eof', pastEnd);
  bothRefuse('short-file', good.subarray(0, 5));
  bothRefuse('overlap', rawFile({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 12] }, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, new Uint8Array(16)));
  bothRefuse('hole', rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, new Uint8Array(16)));
  bothRefuse('trailing-bytes', rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, new Uint8Array(12)));
  bothRefuse('wrong-size', rawFile({ a: { dtype: 'I64', shape: [3], data_offsets: [0, 16] } }, new Uint8Array(16)));
  bothRefuse('bad-metadata', rawFile({ __metadata__: { format: 1 }, a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)));
  bothRefuse('negative-shape', rawFile({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)));
  bothRefuse('not-json', rawFile('{"a": ', new Uint8Array(0)));
  bothRefuse('not-an-object', rawFile('[1, 2]', new Uint8Array(0)));
});

s.after(() => rmSync(work, { recursive: true, force: true }));
s.run();
