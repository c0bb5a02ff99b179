// node:fs and node:path, loaded when first needed (as core's parseCli loads node:util), so that
// @cce/nn stays importable in a browser; only the checkpoint file functions need them.
type Fs = typeof import('node:fs');
type Path = typeof import('node:path');

let loaded: Promise<{ fs: Fs; path: Path }> | null = null;

export function nodeFs(): Promise<{ fs: Fs; path: Path }> {
  const fsName = 'node:fs';
  const pathName = 'node:path';
  loaded ??= Promise.all([
    import(/* @vite-ignore */ fsName) as Promise<Fs>,
    import(/* @vite-ignore */ pathName) as Promise<Path>,
  ]).then(([fs, path]) => ({ fs, path }));
  return loaded;
}
