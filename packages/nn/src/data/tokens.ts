// Tokenized corpora, cached on disk. A cache entry is a directory named by the corpus, the tokenizer and a
// hash of both (the corpus's source-text fingerprint and the tokenizer's id): train.bin and val.bin (ids
// as little-endian uint16 when the vocabulary fits, else int32) and meta.json. It is written as a
// temporary directory renamed into place, so a reader sees a whole entry or none; a hit skips tokenizing.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Corpus } from './corpus.js';
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

export interface LoadTokensOptions {
  /** Cache directory; default $CCE_CACHE_DIR or ~/.cache/cce/tokens. `false` turns caching off. */
  cacheDir?: string | false;
  /** When given, each split must hold at least context + 1 tokens (one input window and its targets). */
  context?: number;
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

export function defaultCacheDir(): string {
  return process.env.CCE_CACHE_DIR || join(homedir(), '.cache', 'cce', 'tokens');
}

/** The cache entry's directory name for a corpus and tokenizer. */
export function cacheEntryName(corpus: Corpus, tokenizer: Tokenizer): string {
  const key = createHash('sha256').update(`${corpus.fingerprint}\u0000${tokenizer.id}`).digest('hex').slice(0, 20);
  const safe = corpus.name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 40) || 'corpus';
  return `${safe}-${tokenizer.id.replace(/[^A-Za-z0-9._-]/g, '_')}-${key}`;
}

/** The corpus's ids under `tokenizer`, from the cache when present, else tokenized and cached. */
export function loadTokens(corpus: Corpus, tokenizer: Tokenizer, opts: LoadTokensOptions = {}): TokenData {
  const cacheDir = opts.cacheDir === undefined ? defaultCacheDir() : opts.cacheDir;
  let data: TokenData | undefined;
  let entry: string | undefined;
  if (cacheDir !== false) {
    entry = join(cacheDir, cacheEntryName(corpus, tokenizer));
    const hit = readEntry(entry, corpus, tokenizer);
    if (hit) data = { ...hit, tokenizer, corpus: corpus.name, cached: true, cacheEntry: entry };
  }
  if (!data) {
    const { train, val } = tokenizeCorpus(corpus, tokenizer);
    if (entry && cacheDir !== false) writeEntry(cacheDir, entry, corpus, tokenizer, train, val);
    data = { train, val, tokenizer, corpus: corpus.name, cached: false, cacheEntry: entry };
  }
  if (opts.context !== undefined) checkFits(corpus, tokenizer, data, opts.context);
  return data;
}

function checkFits(corpus: Corpus, tokenizer: Tokenizer, data: TokenData, context: number): void {
  if (!Number.isInteger(context) || context < 1) throw new Error(`context ${context} is not a positive integer`);
  const need = context + 1;
  const [nt, nv] = [data.train.length, data.val.length];
  if (nt >= need && nv >= need) return;
  const what = corpus.split.kind === 'position' ? `data file ${corpus.origin}` : `corpus ${corpus.name} (${corpus.origin})`;
  const split =
    corpus.split.kind === 'position'
      ? `split ${Math.round(corpus.split.trainFraction * 100)}/${Math.round((1 - corpus.split.trainFraction) * 100)} by position into ${nt} training and ${nv} validation tokens`
      : `${nt} training and ${nv} validation tokens`;
  throw new Error(
    `${what} is too short: ${nt + nv} ${tokenizer.kind} tokens, ${split}; each split needs at least ${need} tokens (one context of ${context} plus its target)`,
  );
}

function bytesPer(dtype: TokenMeta['dtype']): number {
  return dtype === 'uint16' ? 2 : 4;
}

function encodeIds(ids: Int32Array, dtype: TokenMeta['dtype']): Buffer {
  const buf = Buffer.alloc(ids.length * bytesPer(dtype));
  if (dtype === 'uint16') for (let i = 0; i < ids.length; i++) buf.writeUInt16LE(ids[i]!, i * 2);
  else for (let i = 0; i < ids.length; i++) buf.writeInt32LE(ids[i]!, i * 4);
  return buf;
}

function decodeIds(buf: Buffer, dtype: TokenMeta['dtype']): Int32Array {
  const n = buf.length / bytesPer(dtype);
  const out = new Int32Array(n);
  if (dtype === 'uint16') for (let i = 0; i < n; i++) out[i] = buf.readUInt16LE(i * 2);
  else for (let i = 0; i < n; i++) out[i] = buf.readInt32LE(i * 4);
  return out;
}

/** A valid entry's ids, or undefined (missing, partial, or not this corpus and tokenizer). */
function readEntry(entry: string, corpus: Corpus, tokenizer: Tokenizer): { train: Int32Array; val: Int32Array } | undefined {
  try {
    const metaPath = join(entry, 'meta.json');
    if (!existsSync(metaPath) || statSync(metaPath).size > 1 << 24) return undefined;
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as TokenMeta;
    if (meta.format !== 'cce-tokens-v1' || meta.fingerprint !== corpus.fingerprint || meta.tokenizer?.id !== tokenizer.id) return undefined;
    if (meta.dtype !== 'uint16' && meta.dtype !== 'int32') return undefined;
    const read = (part: TokenMeta['train'] | TokenMeta['val'], file: string) => {
      const buf = readFileSync(join(entry, file));
      if (!Number.isInteger(part?.tokens) || buf.length !== part.tokens * bytesPer(meta.dtype)) return undefined;
      const ids = decodeIds(buf, meta.dtype);
      for (let i = 0; i < ids.length; i++) if (ids[i]! < 0 || ids[i]! >= tokenizer.vocabSize) return undefined;
      return ids;
    };
    const train = read(meta.train, 'train.bin');
    const val = read(meta.val, 'val.bin');
    return train && val ? { train, val } : undefined;
  } catch {
    return undefined;
  }
}

function writeEntry(cacheDir: string, entry: string, corpus: Corpus, tokenizer: Tokenizer, train: Int32Array, val: Int32Array): void {
  mkdirSync(cacheDir, { recursive: true });
  const dtype: TokenMeta['dtype'] = tokenizer.vocabSize <= 65536 ? 'uint16' : 'int32';
  const meta: TokenMeta = {
    format: 'cce-tokens-v1',
    corpus: corpus.name,
    origin: corpus.origin,
    fingerprint: corpus.fingerprint,
    tokenizer: { ...tokenizer.spec(), id: tokenizer.id },
    vocabSize: tokenizer.vocabSize,
    modelVocabSize: tokenizer.modelVocabSize,
    dtype,
    endianness: 'little',
    train: { file: 'train.bin', tokens: train.length },
    val: { file: 'val.bin', tokens: val.length },
  };
  const tmp = `${entry}.tmp-${process.pid}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  mkdirSync(tmp);
  try {
    writeFileSync(join(tmp, 'train.bin'), encodeIds(train, dtype));
    writeFileSync(join(tmp, 'val.bin'), encodeIds(val, dtype));
    writeFileSync(join(tmp, 'meta.json'), `${JSON.stringify(meta, null, 1)}\n`);
    // A stale or partial entry (it failed readEntry) is replaced; a complete one written meanwhile by
    // another process is kept and ours dropped.
    if (existsSync(entry) && !readEntry(entry, corpus, tokenizer)) rmSync(entry, { recursive: true, force: true });
    try {
      renameSync(tmp, entry);
    } catch (e) {
      if (!existsSync(entry)) throw e;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
