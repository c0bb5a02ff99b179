// Checkpoint directories written atomically. Every file goes into a temporary sibling directory (same
// parent, so the renames stay on one file system) and is fsynced, the directory too; then the target,
// if present, is renamed aside, the new directory renamed in, the parent fsynced, and the old one
// removed. A crash at any point leaves a complete directory: the old one (at the target, or, between
// the two renames, at its aside name, which `recoverCheckpointDir` puts back) or the new one.
import { nodeFs } from './node.js';
import { encodeSafetensors, type SafetensorsTensor } from './safetensors.js';

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

/** What a write callback gets: it writes files into the (temporary) checkpoint directory. */
export interface CheckpointDirWriter {
  /** The temporary directory being filled. */
  readonly dir: string;
  file(name: string, data: Uint8Array | string): void;
  json(name: string, value: unknown): void;
  safetensors(name: string, tensors: Map<string, SafetensorsTensor> | Record<string, SafetensorsTensor>, metadata?: Record<string, string>): void;
}

let counter = 0;

function checkFileName(name: string): void {
  if (!name || name === '.' || name === '..' || /[/\\\0]/.test(name) || name.startsWith('.')) {
    throw new CheckpointError(`checkpoint: file name ${JSON.stringify(name)} must be a plain name without path separators or a leading dot`);
  }
}

type Fs = Awaited<ReturnType<typeof nodeFs>>['fs'];

function fsyncPath(fs: Fs, path: string): void {
  const fd = fs.openSync(path, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function writeFileSynced(fs: Fs, path: string, data: Uint8Array): void {
  const fd = fs.openSync(path, 'wx');
  try {
    let off = 0;
    while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

const prefix = (path: Path, target: string) => `.${path.basename(target)}.`;
type Path = Awaited<ReturnType<typeof nodeFs>>['path'];

/** Writes a checkpoint directory atomically: `write` fills a temporary sibling; only when it returns
 *  does the result replace `target`. If `write` throws, the temporary directory is removed, `target`
 *  is left untouched and the error is rethrown. */
export async function writeCheckpointDir(target: string, write: (w: CheckpointDirWriter) => void | Promise<void>): Promise<void> {
  const { fs, path } = await nodeFs();
  const { dirname, join } = path;
  target = path.resolve(target);
  const parent = dirname(target);
  fs.mkdirSync(parent, { recursive: true });
  const tag = `${process.pid}-${Date.now()}-${counter++}`;
  const tmp = join(parent, `${prefix(path, target)}tmp-${tag}`);
  const aside = join(parent, `${prefix(path, target)}old-${tag}`);
  fs.mkdirSync(tmp);
  const written = new Set<string>();
  const writer: CheckpointDirWriter = {
    dir: tmp,
    file(name, data) {
      checkFileName(name);
      if (written.has(name)) throw new CheckpointError(`checkpoint ${target}: file '${name}' written twice`);
      written.add(name);
      writeFileSynced(fs, join(tmp, name), typeof data === 'string' ? new TextEncoder().encode(data) : data);
    },
    json(name, value) {
      const text = JSON.stringify(value, null, 2);
      if (text === undefined) throw new CheckpointError(`checkpoint ${target}: '${name}' is not JSON-serialisable`);
      this.file(name, text + '\n');
    },
    safetensors(name, tensors, metadata) {
      this.file(name, encodeSafetensors(tensors, metadata));
    },
  };
  try {
    await write(writer);
    fsyncPath(fs, tmp);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const hadOld = fs.existsSync(target);
  if (hadOld) fs.renameSync(target, aside);
  try {
    fs.renameSync(tmp, target);
  } catch (e) {
    if (hadOld) fs.renameSync(aside, target);
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  fsyncPath(fs, parent);
  if (hadOld) fs.rmSync(aside, { recursive: true, force: true });
}

/** After a crash (call it only while no writer of `target` runs): removes leftover temporary directories of `target` and, if `target` is missing
 *  but an old copy was renamed aside (a crash between the two renames), puts the newest back.
 *  Returns what it did, one line per action. */
export async function recoverCheckpointDir(target: string): Promise<string[]> {
  const { fs, path } = await nodeFs();
  const { dirname, join } = path;
  target = path.resolve(target);
  const parent = dirname(target);
  if (!fs.existsSync(parent)) return [];
  const actions: string[] = [];
  const names = fs.readdirSync(parent).filter((n) => n.startsWith(prefix(path, target))).sort();
  // old-<pid>-<ms>-<counter>: newest by time, then counter.
  const key = (n: string) => n.slice(prefix(path, target).length).split('-').slice(2).map(Number);
  const olds = names
    .filter((n) => n.slice(prefix(path, target).length).startsWith('old-'))
    .sort((a, b) => key(a)[0]! - key(b)[0]! || key(a)[1]! - key(b)[1]!);
  if (!fs.existsSync(target) && olds.length) {
    const newest = olds[olds.length - 1]!;
    fs.renameSync(join(parent, newest), target);
    actions.push(`restored ${target} from ${newest}`);
  }
  for (const n of fs.readdirSync(parent).filter((x) => x.startsWith(prefix(path, target)))) {
    fs.rmSync(join(parent, n), { recursive: true, force: true });
    actions.push(`removed ${n}`);
  }
  return actions;
}
