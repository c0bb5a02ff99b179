// Tokenized corpora: the ids of a corpus under a tokenizer, split as the corpus says, and the key of their
// entry in the on-disk cache (token-cache.ts, Node only).
import type { Corpus } from './corpus.js';
import { sha256Hex } from './sha256.js';
import type { Tokenizer, TokenizerSpec } from './tokenizer.js';

export interface TokenData {
  train: Int32Array;
  val: Int32Array;
  tokenizer: Tokenizer;
  corpus: string;
  /** True when the ids came from the cache (no tokenizing happened). */
  cached: boolean;
  /** The cache entry's directory (undefined when caching is off). */
  cacheEntry?: string;
}

export interface TokenMeta {
  format: 'cce-tokens-v1';
  corpus: string;
  origin: string;
  fingerprint: string;
  tokenizer: TokenizerSpec & { id: string };
  vocabSize: number;
  modelVocabSize: number;
  dtype: 'uint16' | 'int32';
  endianness: 'little';
  train: { file: 'train.bin'; tokens: number };
  val: { file: 'val.bin'; tokens: number };
}

/** Tokenizes a corpus: every document on its own, ids concatenated, split as the corpus says. */
export function tokenizeCorpus(corpus: Corpus, tokenizer: Tokenizer): { train: Int32Array; val: Int32Array } {
  if (corpus.split.kind === 'documents') {
    const train: number[][] = [];
    const val: number[][] = [];
    corpus.documents.forEach((d, i) => (corpus.split.kind === 'documents' && corpus.split.isValidation(i) ? val : train).push(tokenizer.encode(d)));
    return { train: concat(train), val: concat(val) };
  }
  const all = concat(corpus.documents.map((d) => tokenizer.encode(d)));
  const cut = Math.floor(all.length * corpus.split.trainFraction);
  return { train: all.slice(0, cut), val: all.slice(cut) };
}

function concat(parts: number[][]): Int32Array {
  const out = new Int32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** The cache entry's directory name for a corpus and tokenizer. */
export function cacheEntryName(corpus: Corpus, tokenizer: Tokenizer): string {
  const key = sha256Hex(`${corpus.fingerprint}\u0000${tokenizer.id}`).slice(0, 20);
  const safe = corpus.name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 40) || 'corpus';
  return `${safe}-${tokenizer.id.replace(/[^A-Za-z0-9._-]/g, '_')}-${key}`;
}

/** Refuses token data whose splits cannot hold one window of `context` + 1 tokens, naming the corpus and the counts. */
export function checkTokensFit(corpus: Corpus, tokenizer: Tokenizer, data: TokenData, context: number): void {
  if (!Number.isInteger(context) || context < 1) throw new Error(`context ${context} is not a positive integer`);
  const need = context + 1;
  const [nt, nv] = [data.train.length, data.val.length];
  if (nt >= need && nv >= need) return;
  const what = corpus.label ?? (corpus.split.kind === 'position' ? `data file ${corpus.origin}` : `corpus ${corpus.name} (${corpus.origin})`);
  const split =
    corpus.split.kind === 'position'
      ? `split ${Math.round(corpus.split.trainFraction * 100)}/${Math.round((1 - corpus.split.trainFraction) * 100)} by position into ${nt} training and ${nv} validation tokens`
      : `${nt} training and ${nv} validation tokens`;
  throw new Error(
    `${what} is too short: ${nt + nv} ${tokenizer.kind} tokens, ${split}; each split needs at least ${need} tokens (one context of ${context} plus its target)`,
  );
}

