// Tokenizers behind one interface: GPT-2's BPE (r50k_base, from gpt-tokenizer) and a char-level
// tokenizer made from a corpus's own characters. `modelVocabSize` is the classifier's row count: the
// vocabulary padded up to a multiple of 64 (50257 -> 50304); ids at and beyond `vocabSize` are padding.
import { sha256Hex } from './sha256.js';

/** What a tokenizer is, enough to rebuild it (stored beside cached tokens and in checkpoints). */
export type TokenizerSpec = { kind: 'bpe'; encoding: 'r50k_base' } | { kind: 'char'; chars: string[] };

export interface Tokenizer {
  /** Stable identifier, part of the token cache's key (the char tokenizer's includes its vocabulary's hash). */
  readonly id: string;
  readonly kind: 'bpe' | 'char';
  readonly vocabSize: number;
  /** vocabSize padded up to a multiple of 64: the model's embedding and classifier rows. */
  readonly modelVocabSize: number;
  encode(text: string): number[];
  decode(ids: ArrayLike<number>): string;
  spec(): TokenizerSpec;
}

/** `n` rounded up to a multiple of `multiple` (64 by default). */
export function padVocab(n: number, multiple = 64): number {
  return Math.ceil(n / multiple) * multiple;
}

type BpeModule = {
  encode(text: string, opts?: { disallowedSpecial?: Set<string> }): number[];
  decode(ids: Iterable<number>): string;
  vocabularySize: number;
};
let bpeModule: Promise<BpeModule> | undefined;

/** GPT-2's BPE (r50k_base: 50257 ids, model size 50304). Special-token text such as
 * `<|endoftext|>` in the input is encoded as ordinary text. Loaded on first use (the ranks are large). */
export async function bpeTokenizer(): Promise<Tokenizer> {
  bpeModule ??= import('gpt-tokenizer/encoding/r50k_base') as Promise<BpeModule>;
  const m = await bpeModule;
  const vocabSize = m.vocabularySize;
  const noSpecial = new Set<string>();
  return {
    id: 'bpe-r50k_base',
    kind: 'bpe',
    vocabSize,
    modelVocabSize: padVocab(vocabSize),
    encode: (text) => m.encode(text, { disallowedSpecial: noSpecial }),
    decode: (ids) => {
      for (let i = 0; i < ids.length; i++) {
        const v = ids[i]!;
        if (!Number.isInteger(v) || v < 0 || v >= vocabSize) throw new Error(`bpe tokenizer: id ${v} at ${i} is outside the vocabulary [0, ${vocabSize})`);
      }
      return m.decode(Array.from(ids));
    },
    spec: () => ({ kind: 'bpe', encoding: 'r50k_base' }),
  };
}

/** A char-level tokenizer over `chars` (unique code points; id = index). */
export function charTokenizerFromChars(chars: readonly string[]): Tokenizer {
  if (!chars.length) throw new Error('char tokenizer: the vocabulary is empty');
  const index = new Map<string, number>();
  chars.forEach((c, i) => {
    if ([...c].length !== 1) throw new Error(`char tokenizer: vocabulary entry ${JSON.stringify(c)} at ${i} is not one code point`);
    if (index.has(c)) throw new Error(`char tokenizer: vocabulary entry ${JSON.stringify(c)} appears twice`);
    index.set(c, i);
  });
  const list = [...chars];
  const hash = sha256Hex(list.join('\u0000')).slice(0, 16);
  return {
    id: `char-${hash}`,
    kind: 'char',
    vocabSize: list.length,
    modelVocabSize: padVocab(list.length),
    encode: (text) => {
      const out: number[] = [];
      for (const c of text) {
        const id = index.get(c);
        if (id === undefined) throw new Error(`char tokenizer: character ${JSON.stringify(c)} (U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}) is not in its vocabulary of ${list.length}`);
        out.push(id);
      }
      return out;
    },
    decode: (ids) => {
      let s = '';
      for (let i = 0; i < ids.length; i++) {
        const c = list[ids[i]!];
        if (c === undefined) throw new Error(`char tokenizer: id ${ids[i]} at ${i} is outside the vocabulary [0, ${list.length})`);
        s += c;
      }
      return s;
    },
    spec: () => ({ kind: 'char', chars: [...list] }),
  };
}

/** A char-level tokenizer from a corpus's own characters: its unique code points, sorted by code point. */
export function charTokenizer(text: string | readonly string[]): Tokenizer {
  const seen = new Set<number>();
  for (const t of typeof text === 'string' ? [text] : text) for (const c of t) seen.add(c.codePointAt(0)!);
  return charTokenizerFromChars([...seen].sort((a, b) => a - b).map((cp) => String.fromCodePoint(cp)));
}

/** Rebuilds a tokenizer from its spec (as stored with cached tokens or a checkpoint). */
export async function tokenizerFromSpec(spec: TokenizerSpec): Promise<Tokenizer> {
  if (spec?.kind === 'bpe' && spec.encoding === 'r50k_base') return bpeTokenizer();
  if (spec?.kind === 'char' && Array.isArray(spec.chars)) return charTokenizerFromChars(spec.chars);
  throw new Error(`tokenizer: unknown spec ${JSON.stringify(spec)?.slice(0, 200)}`);
}
