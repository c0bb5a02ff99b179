// nn's own SHA-256 (fingerprints and tokenizer ids in Node and browsers) against node:crypto: every
// length around the block and padding boundaries, inputs fed in pieces, strings with multi-byte UTF-8.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import * as C from '@cce/core';
import { Sha256, sha256Hex } from '@cce/nn';

const s = suite('nn sha256');
const truth = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');

s('the FIPS 180-4 examples', () => {
  assert.is(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.is(sha256Hex(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
});

s('bytes of every length 0..300 match node:crypto, whole and in random pieces', () => {
  const rng = C.mulberry32(7);
  for (let n = 0; n <= 300; n++) {
    const bytes = Uint8Array.from({ length: n }, () => Math.floor(rng() * 256));
    assert.is(sha256Hex(bytes), truth(bytes), `length ${n}`);
    const h = new Sha256();
    for (let i = 0; i < n;) {
      const k = Math.floor(rng() * 70);
      h.update(bytes.subarray(i, i + k));
      i += k;
    }
    assert.is(h.digest(), truth(bytes), `length ${n} in pieces`);
  }
});

s('strings hash as UTF-8, as node:crypto does', () => {
  for (const t of ['é', 'naïve café \u0000 zero', '日本語のテキスト', '😀 emoji '.repeat(20), 'x'.repeat(100_000)]) {
    assert.is(sha256Hex(t), truth(t), JSON.stringify(t.slice(0, 20)));
  }
  assert.is(new Sha256().update('brown-v1').update('\u0000').update('doc').digest(), truth('brown-v1\u0000doc'));
});

s('a digested hash refuses more input', () => {
  const h = new Sha256().update('a');
  h.digest();
  assert.throws(() => h.update('b'), /update after digest/);
});

s.run();
