// Checkpoint files: safetensors round trip and byte layout, the reader's refusals, atomic checkpoint
// directories, GPT-2 names and config.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CheckpointError, SafetensorsError, checkGpt2Tensors, decodeSafetensors, encodeSafetensors, gpt2Config,
  gpt2DimsFromConfig, gpt2TensorSpecs, loadCheckpoint, readSafetensors, recoverCheckpointDir, saveCheckpoint,
  writeCheckpointDir,
} from '@cce/nn';
import type { SafetensorsTensor } from '@cce/nn';
import { rawFile } from '../support/safetensors-files.js';

const s = suite('checkpoint');
const work = mkdtempSync(join(tmpdir(), 'cce-ckpt-test-'));

const bitsF32 = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

const rejects = async (f: () => Promise<unknown>, pattern: RegExp) => {
  try {
    await f();
  } catch (e) {
    assert.match((e as Error).message, pattern);
    return;
  }
  assert.unreachable(`succeeded where it should fail with ${pattern}`);
};

const refuses = (bytes: Uint8Array, pattern: RegExp) => {
  try {
    decodeSafetensors(bytes, 'bad.safetensors');
  } catch (e) {
    assert.instance(e, SafetensorsError);
    assert.match((e as Error).message, /^safetensors file bad\.safetensors: /);
    assert.match((e as Error).message, pattern);
    return;
  }
  assert.unreachable(`accepted a file that should fail with ${pattern}`);
};

s('round trip: several tensors, values bitwise equal, order and metadata kept', async () => {
  const weird = new Float32Array([NaN, -0, Infinity, -Infinity, 1e-45, 3.4028234663852886e38]);
  const nanBits = new Uint32Array(weird.buffer);
  nanBits[0] = 0x7fc01234; // a NaN payload survives
  const tensors = new Map<string, SafetensorsTensor>([
    ['w', { dtype: 'F32', shape: [2, 3], data: weird }],
    ['b', { dtype: 'F32', shape: [3], data: new Float32Array([0.1, 0.2, 0.3]) }],
    ['scalar', { dtype: 'F32', shape: [], data: new Float32Array([7]) }],
    ['empty', { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) }],
    ['ids', { dtype: 'I32', shape: [1, 2], data: new Int32Array([-5, 2147483647]) }],
    ['step', { dtype: 'I64', shape: [1], data: new BigInt64Array([-(2n ** 62n)]) }],
  ]);
  const bytes = encodeSafetensors(tensors);
  const path = join(work, 'rt.safetensors');
  writeFileSync(path, bytes);
  const back = await readSafetensors(path);
  assert.equal(back.metadata, { format: 'pt' });
  assert.equal(new Set(back.tensors.keys()), new Set(tensors.keys()));
  for (const [name, t] of tensors) {
    const r = back.tensors.get(name)!;
    assert.is(r.dtype, t.dtype, name);
    assert.equal(r.shape, t.shape, name);
    if (t.data instanceof Float32Array) assert.equal(bitsF32(r.data as Float32Array), bitsF32(t.data), name);
    else assert.equal(Array.from(r.data as Int32Array), Array.from(t.data as Int32Array), name);
  }
  assert.is(new Uint32Array((back.tensors.get('w')!.data as Float32Array).buffer)[0], 0x7fc01234);
});

s('a hand-built file: length field, space padding to 8 bytes, offsets and data as the spec lays them out', () => {
  const bytes = encodeSafetensors({
    a: { dtype: 'F32', shape: [2], data: new Float32Array([1, -2]) },
    n: { dtype: 'I64', shape: [1], data: new BigInt64Array([3n]) },
  });
  // The I64 tensor comes first (largest element first keeps every tensor aligned to its element size).
  const json = '{"__metadata__":{"format":"pt"},"n":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}';
  assert.is(json.length, 139);
  const headerLen = 144; // 139 rounded up to a multiple of 8
  assert.is(bytes.length, 8 + headerLen + 16);
  assert.equal(Array.from(bytes.subarray(0, 8)), [144, 0, 0, 0, 0, 0, 0, 0]);
  assert.is(new TextDecoder().decode(bytes.subarray(8, 8 + 139)), json);
  assert.equal(Array.from(bytes.subarray(8 + 139, 8 + 144)), [0x20, 0x20, 0x20, 0x20, 0x20]);
  const data = bytes.subarray(8 + 144);
  assert.equal(Array.from(data.subarray(0, 8)), [3, 0, 0, 0, 0, 0, 0, 0]); // 3n, little-endian
  assert.equal(Array.from(data.subarray(8, 12)), [0x00, 0x00, 0x80, 0x3f]); // 1.0f
  assert.equal(Array.from(data.subarray(12, 16)), [0x00, 0x00, 0x00, 0xc0]); // -2.0f
  // A header whose JSON length is already a multiple of 8 gets no padding.
  const exact = encodeSafetensors({}, { format: 'pt', x: 'abcdefghi' }); // {"__metadata__":{"format":"pt","x":"abcdefghi"}} = 48 bytes
  assert.is(exact.length, 8 + 48);
  assert.is(exact[0], 48);
  assert.is(exact[exact.length - 1], '}'.charCodeAt(0));
});

s('the reader refuses truncated files and bad header lengths, naming the numbers', () => {
  refuses(new Uint8Array(5), /file is 5 bytes, shorter than the 8-byte header length/);
  const good = encodeSafetensors({ a: { dtype: 'F32', shape: [4], data: new Float32Array(4) } });
  refuses(good.subarray(0, 20), /header length \d+ exceeds the 12 bytes after the length field \(file truncated\?\)/);
  refuses(good.subarray(0, good.length - 4), /tensor 'a': data_offsets \[0, 16\] lie outside the data region of 12 bytes/);
  refuses(rawFile('{}', new Uint8Array(0), 1n << 40n), /header length 1099511627776 exceeds the limit of 104857600 bytes/);
  refuses(rawFile('{}', new Uint8Array(0), 0xffffffffffffffffn), /header length 18446744073709551615 exceeds the limit/);
  refuses(rawFile('{}', new Uint8Array(0), 1000n), /header length 1000 exceeds the 2 bytes after the length field/);
});

s('the reader refuses headers that are not a JSON object', () => {
  refuses(rawFile('{"a": '), /header is not valid JSON/);
  refuses(rawFile('[1, 2]'), /header does not start with '\{'/);
  refuses(rawFile('{"a": 1} trailing'), /header is not valid JSON/);
  const bad = rawFile('{}');
  bad[8] = 0xff;
  refuses(bad, /header is not valid UTF-8/);
  refuses(rawFile({ __metadata__: { format: 1 } }), /__metadata__ 'format' is not a string/);
  refuses(rawFile({ a: 5 }), /tensor 'a': entry is not an object/);
});

s('the reader refuses unknown dtypes, bad shapes, bad and overlapping offsets, wrong byte lengths', () => {
  const d16 = new Uint8Array(16);
  refuses(rawFile({ a: { dtype: 'F16', shape: [8], data_offsets: [0, 16] } }, d16), /tensor 'a': unknown or unsupported dtype "F16" \(supported: F32, I32, I64\)/);
  refuses(rawFile({ a: { shape: [4], data_offsets: [0, 16] } }, d16), /tensor 'a': unknown or unsupported dtype undefined/);
  refuses(rawFile({ a: { dtype: 'F32', shape: [-4], data_offsets: [0, 16] } }, d16), /tensor 'a': shape \[-4\] is not a list of non-negative integers/);
  refuses(rawFile({ a: { dtype: 'F32', shape: [1.5], data_offsets: [0, 16] } }, d16), /shape \[1\.5\] is not a list/);
  refuses(rawFile({ a: { dtype: 'F32', shape: 4, data_offsets: [0, 16] } }, d16), /shape 4 is not a list/);
  refuses(rawFile({ a: { dtype: 'F32', shape: [4], data_offsets: [0] } }, d16), /tensor 'a': data_offsets \[0\] is not a pair of non-negative integers/);
  refuses(rawFile({ a: { dtype: 'F32', shape: [4], data_offsets: [-16, 0] } }, d16), /data_offsets \[-16,0\] is not a pair/);
  refuses(rawFile({ a: { dtype: 'F32', shape: [0], data_offsets: [16, 0] } }, d16), /tensor 'a': data_offsets \[16, 0\] end before they begin/);
  refuses(rawFile({ a: { dtype: 'F32', shape: [8], data_offsets: [0, 32] } }, d16), /tensor 'a': data_offsets \[0, 32\] lie outside the data region of 16 bytes/);
  refuses(rawFile({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 16] } }, d16), /tensor 'a': shape \[3\] of F32 needs 12 bytes but data_offsets \[0, 16\] hold 16/);
  refuses(rawFile({ a: { dtype: 'I64', shape: [4], data_offsets: [0, 16] } }, d16), /tensor 'a': shape \[4\] of I64 needs 32 bytes but data_offsets \[0, 16\] hold 16/);
  refuses(rawFile({ a: { dtype: 'F32', shape: [2 ** 30, 2 ** 30, 2 ** 30], data_offsets: [0, 16] } }, d16), /needs \d.* bytes but data_offsets \[0, 16\] hold 16/);
  refuses(
    rawFile({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 12] }, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, d16),
    /tensor 'b': data_offsets \[8, 16\] overlap tensor 'a' \[0, 12\]/,
  );
  refuses(
    rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, new Uint8Array(8)),
    /tensor 'b': data_offsets \[0, 8\] overlap tensor 'a' \[0, 8\]/,
  );
  refuses(
    rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, d16),
    /tensor 'b': data_offsets \[8, 16\] leave a hole of bytes \[4, 8\]/,
  );
  refuses(rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, d16), /tensors cover 8 bytes but the data region holds 16 \(trailing bytes\)/);
  // The same layouts with valid numbers are accepted (the checks are not refusing everything).
  const ok = decodeSafetensors(rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [8, 16] }, b: { dtype: 'I32', shape: [2], data_offsets: [0, 8] } }, d16));
  assert.equal([...ok.tensors.keys()], ['a', 'b']);
});

s('the writer refuses inconsistent tensors', () => {
  assert.throws(() => encodeSafetensors({ a: { dtype: 'F32', shape: [3], data: new Float32Array(2) } }), /tensor 'a': shape \[3\] has 3 elements but the data has 2/);
  assert.throws(() => encodeSafetensors({ a: { dtype: 'I32', shape: [2], data: new Float32Array(2) } }), /tensor 'a': dtype I32 but data is a Float32Array/);
  assert.throws(() => encodeSafetensors({ __metadata__: { dtype: 'F32', shape: [], data: new Float32Array(1) } }), /reserved/);
});

s('checkpoint directory: save and load, config.json and JSON state files beside model.safetensors', async () => {
  const dir = join(work, 'ckpt-a');
  const w = new Float32Array([1.5, -2.25, 3]);
  await saveCheckpoint(dir, {
    tensors: { w: { dtype: 'F32', shape: [3], data: w } },
    config: { model_type: 'gpt2', n_layer: 1 },
    state: { 'optimizer.json': { step: 3, m: [0.5] }, 'trainer.json': { rng: [1, 2, 3, 4], position: 42 } },
  });
  assert.equal(readdirSync(dir).sort(), ['config.json', 'model.safetensors', 'optimizer.json', 'trainer.json']);
  const back = await loadCheckpoint(dir);
  assert.equal(bitsF32(back.tensors.get('w')!.data as Float32Array), bitsF32(w));
  assert.equal(back.config, { model_type: 'gpt2', n_layer: 1 });
  assert.equal(back.state, { 'optimizer.json': { step: 3, m: [0.5] }, 'trainer.json': { rng: [1, 2, 3, 4], position: 42 } });
  assert.equal(back.metadata, { format: 'pt' });
  await rejects(() => saveCheckpoint(dir, { tensors: {}, config: {}, state: { 'config.json': {} } }), /must end in \.json and not be config\.json/);
  await rejects(() => saveCheckpoint(dir, { tensors: {}, config: {}, state: { '../x.json': {} } }), /path separators/);
  await rejects(() => loadCheckpoint(join(work, 'nope')), /no such directory/);
  assert.is((await loadCheckpoint(dir)).state['trainer.json'] !== undefined, true); // the failed saves left it intact
  // A corrupt checkpoint is refused, naming the file.
  const corrupt = join(work, 'ckpt-corrupt');
  await saveCheckpoint(corrupt, { tensors: { w: { dtype: 'F32', shape: [3], data: w } }, config: {} });
  const model = join(corrupt, 'model.safetensors');
  writeFileSync(model, readFileSync(model).subarray(0, 30));
  await rejects(() => loadCheckpoint(corrupt), new RegExp(`^safetensors file ${model.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: header length \\d+ exceeds`));
  rmSync(model);
  await rejects(() => loadCheckpoint(corrupt), /ckpt-corrupt: model\.safetensors is missing/);
});

const siblings = (name: string) => readdirSync(work).filter((n) => n.startsWith(`.${name}.`));

s('atomic write: a writer failing after the first file leaves the old checkpoint intact and no temp directory', async () => {
  const dir = join(work, 'ckpt-b');
  await saveCheckpoint(dir, { tensors: { x: { dtype: 'F32', shape: [1], data: new Float32Array([1]) } }, config: { v: 1 }, state: { 's.json': { old: true } } });
  const before = readFileSync(join(dir, 'model.safetensors'));
  let wroteFirst = false;
  try {
    await writeCheckpointDir(dir, (wr) => {
      wr.safetensors('model.safetensors', { x: { dtype: 'F32', shape: [1], data: new Float32Array([2]) } });
      wroteFirst = existsSync(join(wr.dir, 'model.safetensors'));
      throw new Error('disk full (simulated)');
    });
    assert.unreachable('the failing writer did not throw');
  } catch (e) {
    assert.match((e as Error).message, /disk full \(simulated\)/);
  }
  assert.ok(wroteFirst, 'the first file reached the temporary directory');
  assert.equal(readFileSync(join(dir, 'model.safetensors')), before);
  assert.equal(readdirSync(dir).sort(), ['config.json', 'model.safetensors', 's.json']);
  assert.equal((await loadCheckpoint(dir)).state, { 's.json': { old: true } });
  assert.equal(siblings('ckpt-b'), []);

  // Success replaces the whole directory: the new files only, complete, nothing left beside it.
  await saveCheckpoint(dir, { tensors: { y: { dtype: 'F32', shape: [2], data: new Float32Array([3, 4]) } }, config: { v: 2 } });
  const now = await loadCheckpoint(dir);
  assert.equal(readdirSync(dir).sort(), ['config.json', 'model.safetensors']);
  assert.equal([...now.tensors.keys()], ['y']);
  assert.equal(Array.from(now.tensors.get('y')!.data as Float32Array), [3, 4]);
  assert.equal(now.config, { v: 2 });
  assert.equal(now.state, {});
  assert.equal(siblings('ckpt-b'), []);
});

s('recovery after a crash between the two renames puts the old checkpoint back and removes temp directories', async () => {
  const dir = join(work, 'ckpt-c');
  await saveCheckpoint(dir, { tensors: {}, config: { v: 'old' } });
  // Simulate the crash: the target renamed aside, a half-written temporary directory left behind.
  const aside = join(work, `.ckpt-c.old-1-${Date.now()}-0`);
  renameSync(dir, aside);
  writeFileSync(join(work, '.ckpt-c.tmp-1-0-0'), 'partial');
  const actions = await recoverCheckpointDir(dir);
  assert.is(actions.length, 2);
  assert.match(actions[0]!, /restored .*ckpt-c from \.ckpt-c\.old-/);
  assert.equal((await loadCheckpoint(dir)).config, { v: 'old' });
  assert.equal(siblings('ckpt-c'), []);
  assert.equal(await recoverCheckpointDir(dir), []);
});


s('GPT-2 names and shapes for n_layer 2, and the config GPT2LMHeadModel reads', () => {
  const dims = { vocabSize: 50, nPositions: 16, nEmbd: 8, nLayer: 2, nHead: 2 };
  const specs = gpt2TensorSpecs(dims);
  const layer = (i: number) => [
    [`transformer.h.${i}.ln_1.weight`, [8]],
    [`transformer.h.${i}.ln_1.bias`, [8]],
    [`transformer.h.${i}.attn.c_attn.weight`, [8, 24]],
    [`transformer.h.${i}.attn.c_attn.bias`, [24]],
    [`transformer.h.${i}.attn.c_proj.weight`, [8, 8]],
    [`transformer.h.${i}.attn.c_proj.bias`, [8]],
    [`transformer.h.${i}.ln_2.weight`, [8]],
    [`transformer.h.${i}.ln_2.bias`, [8]],
    [`transformer.h.${i}.mlp.c_fc.weight`, [8, 32]],
    [`transformer.h.${i}.mlp.c_fc.bias`, [32]],
    [`transformer.h.${i}.mlp.c_proj.weight`, [32, 8]],
    [`transformer.h.${i}.mlp.c_proj.bias`, [8]],
  ];
  assert.equal(specs.map((t) => [t.name, t.shape]), [
    ['transformer.wte.weight', [50, 8]],
    ['transformer.wpe.weight', [16, 8]],
    ...layer(0),
    ...layer(1),
    ['transformer.ln_f.weight', [8]],
    ['transformer.ln_f.bias', [8]],
  ]);
  assert.not.ok(specs.some((t) => t.name.startsWith('lm_head')));
  const config = gpt2Config(dims);
  assert.equal(config, {
    architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', vocab_size: 50, n_positions: 16, n_embd: 8, n_layer: 2, n_head: 2,
    n_inner: null, activation_function: 'gelu_new', layer_norm_epsilon: 1e-5, resid_pdrop: 0, embd_pdrop: 0, attn_pdrop: 0,
    tie_word_embeddings: true, bos_token_id: null, eos_token_id: null,
  });
  // GPT-2's vocabulary (padded) names <|endoftext|> as both.
  const bpe = gpt2Config({ ...dims, vocabSize: 50304 });
  assert.equal([bpe.bos_token_id, bpe.eos_token_id], [50256, 50256]);
  assert.equal(gpt2DimsFromConfig(JSON.parse(JSON.stringify(config))), dims);
  assert.throws(() => gpt2TensorSpecs({ ...dims, nHead: 3 }), /nEmbd 8 is not a multiple of nHead 3/);
  assert.throws(() => gpt2DimsFromConfig({ ...config, n_layer: 0 }), /n_layer must be a positive integer, got 0/);

  // Checked against the config: full set accepted; a wrong shape, a missing or an extra tensor refused.
  const tensors = new Map<string, SafetensorsTensor>(specs.map((t) => [t.name, { dtype: 'F32', shape: t.shape, data: new Float32Array(t.shape.reduce((a, b) => a * b, 1)) }]));
  checkGpt2Tensors(tensors, dims);
  const bad = new Map(tensors);
  bad.set('transformer.h.1.attn.c_attn.weight', { dtype: 'F32', shape: [24, 8], data: new Float32Array(192) });
  assert.throws(() => checkGpt2Tensors(bad, dims, 'x.safetensors'), /gpt2 x\.safetensors: tensor 'transformer\.h\.1\.attn\.c_attn\.weight' has shape \[24, 8\], the config needs \[8, 24\]/);
  bad.delete('transformer.h.1.attn.c_attn.weight');
  assert.throws(() => checkGpt2Tensors(bad, dims), /tensor 'transformer\.h\.1\.attn\.c_attn\.weight' is missing/);
  const extra = new Map(tensors);
  extra.set('lm_head.weight', { dtype: 'F32', shape: [50, 8], data: new Float32Array(400) });
  assert.throws(() => checkGpt2Tensors(extra, dims), /unexpected tensor 'lm_head\.weight'/);
  assert.instance(new CheckpointError('x'), Error);
});

s.after(() => rmSync(work, { recursive: true, force: true }));
s.run();
