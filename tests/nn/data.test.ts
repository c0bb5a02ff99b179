// The data pipeline for GPT training: the Brown corpus under GPT-2's BPE gives the reference's token
// counts, the char tokenizer round-trips, the token cache is hit on a second load, text files split
// 90/10 and are refused when empty or too short, and batch windows are in range and seeded.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as C from '@cce/core';
import {
  BatchSampler,
  batchTensors,
  bpeTokenizer,
  brownCorpus,
  brownDocumentText,
  charTokenizer,
  loadTokens,
  prepareData,
  textFileCorpus,
  validationBatches,
  type Tokenizer,
} from '@cce/nn';

const s = suite('nn data');
const work = mkdtempSync(join(tmpdir(), 'cce-data-test-'));
const cacheDir = join(work, 'cache');

/** A tokenizer that counts its encode calls. */
function counting(t: Tokenizer): Tokenizer & { calls: number } {
  const c = { ...t, calls: 0, encode: (text: string) => (c.calls++, t.encode(text)) };
  return c;
}

s('the brown recipe: tags cut at the last slash, blank lines dropped, a blank line after', () => {
  const raw = '\n\n\tThe/at  Fulton/np-tl 1/2/cd ./.\n   \n\tIt/pps said/vbd\n';
  assert.is(brownDocumentText(raw), 'The Fulton 1/2 .\nIt said\n\n');
});

s('brown with the BPE: 1,206,362 training and 134,085 validation tokens; a second load hits the cache', async () => {
  const bpe = await bpeTokenizer();
  assert.is(bpe.vocabSize, 50257);
  assert.is(bpe.modelVocabSize, 50304);
  const corpus = brownCorpus();
  assert.is(corpus.documents.length, 500);
  const tok = counting(bpe);
  const first = loadTokens(corpus, tok, { cacheDir });
  assert.is(first.cached, false);
  assert.is(tok.calls, 500);
  assert.is(first.train.length, 1206362);
  assert.is(first.val.length, 134085);
  const second = loadTokens(corpus, tok, { cacheDir });
  assert.is(second.cached, true);
  assert.is(tok.calls, 500, 'the second load tokenized again');
  assert.equal(second.train, first.train);
  assert.equal(second.val, first.val);
  assert.is(bpe.decode(first.train.subarray(0, 6)), 'The Fulton County Grand Jury said');
  assert.equal(readdirSync(cacheDir).length, 1, 'one cache entry, no temporary left behind');
  // Another tokenizer is another entry.
  const chars = counting(charTokenizer(corpus.documents));
  const c1 = loadTokens(corpus, chars, { cacheDir });
  assert.is(c1.cached, false);
  assert.is(c1.train.length + c1.val.length, corpus.documents.reduce((n, d) => n + [...d].length, 0));
  assert.is(readdirSync(cacheDir).length, 2);
});

s('the char tokenizer: sorted unique code points, a round trip, stable ids, unknown characters refused', () => {
  const text = 'héllo wörld 🙂\nhi';
  const t = charTokenizer(text);
  assert.is(t.vocabSize, new Set([...text]).size);
  assert.is(t.modelVocabSize, 64);
  assert.is(t.decode(t.encode(text)), text);
  assert.equal(t.encode('\n '), [0, 1]);
  assert.is(t.decode([t.vocabSize - 1]), '🙂');
  assert.is(charTokenizer('hi 🙂\nhöllo wérld').id, t.id, 'the same characters give the same tokenizer');
  assert.throws(() => t.encode('x'), /character "x".*not in its vocabulary of 12/);
  assert.throws(() => t.decode([99]), /id 99 at 0 is outside the vocabulary \[0, 12\)/);
});

s('a text file splits 90/10 by position; a changed file is a new cache entry', () => {
  const file = join(work, 'story.txt');
  writeFileSync(file, 'abcdefghij'.repeat(30));
  const corpus = textFileCorpus(file);
  const t = charTokenizer(corpus.documents);
  const d = loadTokens(corpus, t, { cacheDir, context: 16 });
  assert.is(d.train.length, 270);
  assert.is(d.val.length, 30);
  assert.is(t.decode(d.train.subarray(0, 10)) + t.decode(d.val.subarray(0, 3)), 'abcdefghijabc');
  assert.is(loadTokens(corpus, t, { cacheDir }).cached, true);
  writeFileSync(file, 'abcdefghij'.repeat(31));
  assert.is(loadTokens(textFileCorpus(file), t, { cacheDir }).cached, false);
});

s('an empty, non-UTF-8 or too short text file is refused, naming the file and the numbers', async () => {
  const empty = join(work, 'empty.txt');
  writeFileSync(empty, '');
  assert.throws(() => textFileCorpus(empty), (e: Error) => e.message.includes(empty) && /empty \(0 bytes\)/.test(e.message));
  const bad = join(work, 'bad.txt');
  writeFileSync(bad, Buffer.from([0x61, 0xff, 0x62]));
  assert.throws(() => textFileCorpus(bad), /not valid UTF-8/);
  const short = join(work, 'short.txt');
  writeFileSync(short, 'a few words only, not one context');
  const corpus = textFileCorpus(short);
  const bpe = await bpeTokenizer();
  assert.throws(
    () => loadTokens(corpus, bpe, { cacheDir: false, context: 64 }),
    (e: Error) => e.message.includes(short) && /8 bpe tokens/.test(e.message) && /7 training and 1 validation/.test(e.message) && /at least 65 tokens/.test(e.message),
  );
  assert.not.throws(() => loadTokens(corpus, charTokenizer(corpus.documents), { cacheDir: false, context: 2 }));
  assert.throws(() => textFileCorpus(join(work, 'missing.txt')), /missing\.txt: not found/);
});

s('prepareData: a text file by name with either tokenizer, from the cache the second time', async () => {
  const file = join(work, 'prep.txt');
  writeFileSync(file, 'the quick brown fox jumps over the lazy dog. '.repeat(40));
  const a = await prepareData({ data: file, tokenizer: 'char', context: 32, cacheDir });
  assert.is(a.tokenizer.kind, 'char');
  assert.is(a.cached, false);
  assert.is(a.train.length + a.val.length, 45 * 40);
  assert.is((await prepareData({ data: file, tokenizer: 'char', context: 32, cacheDir })).cached, true);
  const b = await prepareData({ data: file, tokenizer: 'bpe', context: 32, cacheDir });
  assert.is(b.tokenizer.modelVocabSize, 50304);
  assert.is(b.tokenizer.decode([...b.train, ...b.val]), 'the quick brown fox jumps over the lazy dog. '.repeat(40));
  try {
    await prepareData({ data: file, tokenizer: 'bpe', context: 4096, cacheDir });
    assert.unreachable('a context longer than the file was accepted');
  } catch (e) {
    assert.match((e as Error).message, /at least 4097 tokens/);
  }
});

s('training windows are in range, shifted by one, and the same for a seed; state resumes exactly', () => {
  const tokens = Int32Array.from({ length: 500 }, (_, i) => i);
  const T = 16;
  const a = new BatchSampler(tokens, T, 8, 7);
  const b = new BatchSampler(tokens, T, 8, 7);
  const seen = new Set<number>();
  for (let step = 0; step < 50; step++) {
    const x = a.next();
    const y = b.next();
    assert.equal(x.inputs, y.inputs);
    assert.equal(x.starts, y.starts);
    for (let r = 0; r < 8; r++) {
      const st = x.starts[r]!;
      seen.add(st);
      assert.ok(st >= 0 && st + T + 1 <= tokens.length, `start ${st}`);
      for (let t = 0; t < T; t++) {
        assert.is(x.inputs[r * T + t], st + t);
        assert.is(x.targets[r * T + t], st + t + 1);
      }
    }
  }
  assert.ok(seen.size > 200, `only ${seen.size} distinct windows`);
  assert.ok(seen.has(0) || seen.has(1) || [...seen].some((v) => v > 470), 'windows reach near both ends');
  assert.not.equal(new BatchSampler(tokens, T, 8, 8).next().starts, new BatchSampler(tokens, T, 8, 7).next().starts);
  const resumed = new BatchSampler(tokens, T, 8, a.state());
  assert.equal(resumed.next().starts, a.next().starts);
  // The last window ends at the last token.
  assert.throws(() => new BatchSampler(tokens.subarray(0, T), T, 8, 1), /16 tokens hold no window of 17/);
});

s('validation: 40 fixed windows from a seed, in batches; core i32 tensors', async () => {
  const tokens = Int32Array.from({ length: 300 }, (_, i) => (i * 7) % 50);
  const v = validationBatches(tokens, 8, 16, { seed: 3 });
  assert.equal(v.map((b) => b.batch), [16, 16, 8]);
  assert.equal(validationBatches(tokens, 8, 16, { seed: 3 }).flatMap((b) => b.starts), v.flatMap((b) => b.starts));
  assert.not.equal(validationBatches(tokens, 8, 16, { seed: 4 })[0]!.starts, v[0]!.starts);
  for (const st of v.flatMap((b) => b.starts)) assert.ok(st >= 0 && st <= 300 - 9);
  C.setBackend(new C.CpuBackend());
  const { inputs, targets } = batchTensors(v[2]!);
  assert.equal(inputs.shape, [8, 8]);
  assert.is(inputs.dtype, 'i32');
  assert.equal(Array.from(await targets.toArray()), Array.from(v[2]!.targets));
  inputs.dispose();
  targets.dispose();
});

s.after(() => rmSync(work, { recursive: true, force: true }));
s.run();
