// Node's built-in modules for the data functions that touch files (the corpora on disk, the token cache),
// taken when called through process.getBuiltinModule (Node >= 20.16), so that @cce/nn imports nothing
// from node: and bundles for a browser, where those functions say that they need Node.
interface Builtins {
  fs: typeof import('node:fs');
  path: typeof import('node:path');
  os: typeof import('node:os');
  module: typeof import('node:module');
  url: typeof import('node:url');
}

type GetBuiltin = (id: string) => unknown;

/** Node's `node:<name>` module; `what` (the function asking) is named when there is no Node. */
export function nodeBuiltin<K extends keyof Builtins>(name: K, what: string): Builtins[K] {
  const proc = (globalThis as { process?: { getBuiltinModule?: GetBuiltin; versions?: { node?: string } } }).process;
  const mod = proc?.getBuiltinModule?.(`node:${name}`);
  if (mod) return mod as Builtins[K];
  const node = proc?.versions?.node;
  throw new Error(node
    ? `${what} needs Node >= 20.16 (process.getBuiltinModule), this is Node ${node}`
    : `${what} reads or writes files, which needs Node; in a browser, give the text itself (textCorpus, brownCorpusOf)`);
}
