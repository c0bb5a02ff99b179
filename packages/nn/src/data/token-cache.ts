// The token cache (Node only: see node.ts). An entry is a directory named by the corpus, the tokenizer and
// a hash of both (cacheEntryName): train.bin and val.bin (ids as little-endian uint16 when the vocabulary
// fits, else int32) and meta.json. It is written as a temporary directory renamed into place, so a reader
// sees a whole entry or none; a hit skips tokenizing.
import type { Corpus } from './corpus.js';
import { nodeBuiltin } from './node.js';
import type { Tokenizer } from './tokenizer.js';
import { type TokenData, type TokenMeta, cacheEntryName, checkTokensFit, tokenizeCorpus } from './tokens.js';

export interface LoadTokensOptions {
  /** Cache directory; default $CCE_CACHE_DIR or ~/.cache/cce/tokens. `false` turns caching off. */
  cacheDir?: string | false;
  /** When given, each split must hold at least context + 1 tokens (one input window and its targets). */
  context?: number;
}

export function defaultCacheDir(): string {
  const { join } = nodeBuiltin('path', 'defaultCacheDir');
  return process.env.CCE_CACHE_DIR || join(nodeBuiltin('os', 'defaultCacheDir').homedir(), '.cache', 'cce', 'tokens');
}

/** The corpus's ids under `tokenizer`, from the cache when present, else tokenized and cached. */
export function loadTokens(corpus: Corpus, tokenizer: Tokenizer, opts: LoadTokensOptions = {}): TokenData {
  const { join } = nodeBuiltin('path', 'loadTokens');
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
  if (opts.context !== undefined) checkTokensFit(corpus, tokenizer, data, opts.context);
  return data;
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
  const { existsSync, readFileSync, statSync } = nodeBuiltin('fs', 'loadTokens');
  const { join } = nodeBuiltin('path', 'loadTokens');
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
  const { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } = nodeBuiltin('fs', 'loadTokens');
  const { join } = nodeBuiltin('path', 'loadTokens');
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
