// The command-line helper every CLI of the repository uses (the demo, the examples, the benchmarks): flags
// declared once with their meaning, type and default; `--help` generated from them; values parsed by
// node's own `util.parseArgs` and then checked and typed here; unknown flags and bad values refused in one
// line with exit code 2. Core runs in browsers too, so nothing here imports Node at the top level:
// `parseFlags` takes parseArgs as a parameter, and `parseCli` loads `node:util` when it is called.
import type { Backend } from './backend.js';
import { UnknownBackendError, checkBackendName, useBackend } from './registry.js';

interface FlagCommon {
  /** What the flag does, for --help (one sentence or two). */
  description: string;
  /** A one-letter alias ('q' for -q). */
  short?: string;
  /** An environment variable read when the flag is absent (checked like the flag). */
  env?: string;
  /** The value's name in --help ('N', 'MiB', 'N,D,V'). */
  placeholder?: string;
  /** The default as --help shows it, when it is not a fixed value (computed by the program). */
  defaultText?: string;
}
export interface BooleanFlag extends FlagCommon { type: 'boolean' }
export interface StringFlag extends FlagCommon { type: 'string'; default?: string; /** repeatable: the values in order */ multiple?: boolean }
export interface IntegerFlag extends FlagCommon { type: 'integer'; default?: number; min?: number; max?: number }
export interface NumberFlag extends FlagCommon { type: 'number'; default?: number; min?: number; max?: number; /** min itself refused */ minExclusive?: boolean }
export interface EnumFlag extends FlagCommon { type: 'enum'; choices: readonly string[]; default?: string }
/** Comma-separated values: `--shape 8192,768,50304`, `--methods naive,cce`. */
export interface ListFlag extends FlagCommon {
  type: 'list';
  of: 'integer' | 'number' | 'string';
  /** For lists of strings: the values allowed. */
  choices?: readonly string[];
  /** Exactly this many items. */
  length?: number;
  /** For lists of numbers: the smallest item allowed. */
  min?: number;
  default?: readonly (string | number)[];
}
export type FlagSpec = BooleanFlag | StringFlag | IntegerFlag | NumberFlag | EnumFlag | ListFlag;

export interface CliSpec<Flags extends Record<string, FlagSpec> = Record<string, FlagSpec>> {
  /** The command as typed, e.g. 'pnpm bench:cce' (usage line and error messages). */
  command: string;
  /** What the command does, for --help. */
  summary: string;
  flags: Flags;
  /** Positional arguments' name for the usage line ('PROMPT'); without it, none are accepted. */
  positionals?: string;
  /** Paragraphs printed after the flags (examples, notes). */
  notes?: string[];
}

type FlagValue<F> =
  F extends { type: 'boolean' } ? boolean
    : F extends { type: 'integer' | 'number' } ? number
      : F extends { type: 'enum'; choices: readonly (infer C)[] } ? C
        : F extends { type: 'list'; of: 'integer' | 'number' } ? number[]
          : F extends { type: 'list'; choices: readonly (infer C)[] } ? C[]
            : F extends { type: 'list' } ? string[]
              : F extends { multiple: true } ? string[]
                : string;
type Always<F> = F extends { type: 'boolean' } | { default: string | number | readonly unknown[] } | { multiple: true } ? true : false;

/** Parsed values by flag name: typed by the spec; `undefined` only for flags without a default. */
export type CliValues<Flags> = {
  -readonly [K in keyof Flags]: Always<Flags[K]> extends true ? FlagValue<Flags[K]> : FlagValue<Flags[K]> | undefined;
} & { help: boolean; _: string[] };

/** A command line that cannot be accepted: the message is one line, naming the flag and the bad value. */
export class CliUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliUsageError';
  }
}

type ParseArgsOption = { type: 'string' | 'boolean'; short?: string; multiple?: boolean };
/** The part of node's `util.parseArgs` used here. */
export type ParseArgsFn = (config: {
  args: string[];
  options: Record<string, ParseArgsOption>;
  strict: boolean;
  allowPositionals: boolean;
}) => { values: Record<string, unknown>; positionals: string[] };

const HELP: BooleanFlag = { type: 'boolean', short: 'h', description: 'print this help and exit' };

/** Flags most commands share. */
export const commonFlags = {
  backend: {
    type: 'string',
    placeholder: 'NAME',
    env: 'CCE_BACKEND',
    default: 'best',
    description: "backend to run on: 'best' (the most preferred one that starts), or a name: cpu, cpu:f64, webgpu, gpujs, gpujs:webasm, gpujs:cpu, ...",
  },
  verbose: { type: 'boolean', description: "print the backend's whole description and every fallback's whole message" },
  json: { type: 'boolean', description: 'print only JSON on stdout (progress goes to stderr)' },
} as const satisfies Record<string, FlagSpec>;

const quote = (v: string) => `'${v}'`;

function typeWord(f: FlagSpec): string {
  switch (f.type) {
    case 'integer': return 'an integer';
    case 'number': return 'a number';
    case 'enum': return `one of ${f.choices.join(', ')}`;
    default: return 'a value';
  }
}

function checkRange(label: string, v: number, f: { min?: number; max?: number; minExclusive?: boolean }, raw: string): void {
  if (f.min !== undefined && (f.minExclusive ? !(v > f.min) : !(v >= f.min))) {
    throw new CliUsageError(`${label}: must be ${f.minExclusive ? 'greater than' : 'at least'} ${f.min}, got ${quote(raw)}`);
  }
  if (f.max !== undefined && !(v <= f.max)) throw new CliUsageError(`${label}: must be at most ${f.max}, got ${quote(raw)}`);
}

function toInteger(label: string, raw: string): number {
  const v = Number(raw);
  if (!/^\s*[+-]?\d+\s*$/.test(raw) || !Number.isSafeInteger(v)) throw new CliUsageError(`${label}: expected an integer, got ${quote(raw)}`);
  return v;
}

function toNumber(label: string, raw: string): number {
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v)) throw new CliUsageError(`${label}: expected a number, got ${quote(raw)}`);
  return v;
}

/** Checks and converts one flag's text (`label` is '--name' or the environment variable). */
export function parseFlagValue(label: string, f: FlagSpec, raw: string): unknown {
  switch (f.type) {
    case 'boolean': return true;
    case 'string': return raw;
    case 'integer': { const v = toInteger(label, raw); checkRange(label, v, f, raw); return v; }
    case 'number': { const v = toNumber(label, raw); checkRange(label, v, f, raw); return v; }
    case 'enum':
      if (!f.choices.includes(raw)) throw new CliUsageError(`${label}: expected ${typeWord(f)}, got ${quote(raw)}`);
      return raw;
    case 'list': {
      const items = raw.split(',').map((s) => s.trim());
      const what = f.of === 'string' ? 'values' : `${f.of}s`;
      const form = f.placeholder ? ` (${f.placeholder})` : '';
      if (items.some((s) => s === '')) throw new CliUsageError(`${label}: expected comma-separated ${what}${form}, got ${quote(raw)}`);
      if (f.length !== undefined && items.length !== f.length) {
        throw new CliUsageError(`${label}: expected ${f.length} comma-separated ${what}${form}, got ${items.length} in ${quote(raw)}`);
      }
      return items.map((s, i) => {
        const at = `${label} item ${i + 1}`;
        if (f.of === 'string') {
          if (f.choices && !f.choices.includes(s)) throw new CliUsageError(`${at}: expected one of ${f.choices.join(', ')}, got ${quote(s)}`);
          return s;
        }
        const v = f.of === 'integer' ? toInteger(at, s) : toNumber(at, s);
        checkRange(at, v, { min: f.min }, s);
        return v;
      });
    }
  }
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length]!;
}

function suggestion(flag: string, names: string[]): string {
  const bare = flag.replace(/^-+/, '').split('=')[0]!;
  const close = names.filter((n) => editDistance(bare, n) <= Math.max(1, Math.floor(n.length / 4)) || (bare.length >= 3 && n.startsWith(bare)));
  return close.length ? ` (did you mean ${close.map((n) => `--${n}`).join(' or ')}?)` : '';
}

/** parseArgs's own errors, rewritten as one line naming the flag. */
function usageFromParseArgs(e: Error & { code?: string }, names: string[]): CliUsageError {
  const m = e.message;
  const flag = /'(-[^' ]*)/.exec(m)?.[1] ?? '';
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return new CliUsageError(`unknown flag ${flag}${suggestion(flag, names)}`);
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return new CliUsageError(`unexpected argument ${quote(/'([^']*)'/.exec(m)?.[1] ?? '')}: this command takes only flags`);
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/argument missing/.test(m)) return new CliUsageError(`${flag} needs a value`);
      if (/does not take an argument/.test(m)) return new CliUsageError(`${flag} takes no value`);
      if (/ambiguous/.test(m)) return new CliUsageError(`${flag} needs a value; for a value that starts with '-', write ${flag}=VALUE`);
      return new CliUsageError(m.split('\n')[0]!);
    default:
      return new CliUsageError(m.split('\n')[0]!);
  }
}

/**
 * Parses `argv` (the arguments after the script) against the spec with `parseArgs` (node's
 * `util.parseArgs`), then checks and converts each value; absent flags take their environment variable,
 * then their default. Throws CliUsageError, whose message is one line. `--help` / `-h` is always
 * accepted and gives `help: true` (the caller prints `formatHelp(spec)`).
 */
export function parseFlags<const Flags extends Record<string, FlagSpec>>(
  spec: CliSpec<Flags>, argv: readonly string[], parseArgs: ParseArgsFn, env: Record<string, string | undefined> = {},
): CliValues<Flags> {
  const flags: Record<string, FlagSpec> = { ...spec.flags, help: HELP };
  const options: Record<string, ParseArgsOption> = {};
  for (const [name, f] of Object.entries(flags)) {
    options[name] = {
      type: f.type === 'boolean' ? 'boolean' : 'string',
      ...(f.short ? { short: f.short } : {}),
      ...(f.type === 'string' && f.multiple ? { multiple: true } : {}),
    };
  }
  // pnpm passes a leading '--' through (`pnpm bench:cce -- --quick`).
  const args = argv[0] === '--' ? argv.slice(1) : [...argv];
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: spec.positionals !== undefined });
  } catch (e) {
    throw usageFromParseArgs(e as Error, Object.keys(flags));
  }
  const out: Record<string, unknown> = { help: parsed.values.help === true, _: parsed.positionals };
  if (out.help) return out as CliValues<Flags>;
  for (const [name, f] of Object.entries(spec.flags)) {
    const given = parsed.values[name];
    if (f.type === 'boolean') {
      out[name] = given === true || (given === undefined && f.env !== undefined && /^(1|true|yes)$/i.test(env[f.env] ?? ''));
    } else if (f.type === 'string' && f.multiple) {
      out[name] = (given as string[] | undefined) ?? [];
    } else if (typeof given === 'string') {
      out[name] = parseFlagValue(`--${name}`, f, given);
    } else if (f.env !== undefined && env[f.env]) {
      out[name] = parseFlagValue(f.env, f, env[f.env]!);
    } else {
      out[name] = f.default === undefined ? undefined : Array.isArray(f.default) ? [...f.default] : f.default;
    }
  }
  return out as CliValues<Flags>;
}

function wrap(text: string, width: number, indent: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width - indent) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

function defaultOf(f: FlagSpec): string | undefined {
  if (f.defaultText !== undefined) return f.defaultText;
  if (f.type === 'boolean' || !('default' in f) || f.default === undefined) return undefined;
  return Array.isArray(f.default) ? f.default.join(',') : String(f.default);
}

function placeholderOf(f: FlagSpec): string {
  if (f.type === 'boolean') return '';
  if (f.placeholder) return f.placeholder;
  switch (f.type) {
    case 'integer': case 'number': return 'N';
    case 'enum': return f.choices.join('|');
    case 'list': return f.choices ? `${f.choices.join('|')},...` : 'LIST';
    default: return 'VALUE';
  }
}

/** The --help text: usage line, summary, every flag with its meaning, allowed values and default. */
export function formatHelp(spec: CliSpec, width = 100): string {
  const flags: [string, FlagSpec][] = [...Object.entries(spec.flags), ['help', HELP]];
  const heads = flags.map(([name, f]) => {
    const ph = placeholderOf(f);
    return `${f.short ? `-${f.short}, ` : '    '}--${name}${ph ? ` ${ph}` : ''}`;
  });
  const col = Math.min(30, Math.max(...heads.map((h) => h.length)) + 2);
  const out = [`usage: ${spec.command} [-- flags]${spec.positionals ? ` ${spec.positionals}` : ''}`, '', ...wrap(spec.summary, width, 0), '', 'flags:'];
  flags.forEach(([, f], i) => {
    const extra: string[] = [];
    if (f.type === 'enum') extra.push(`one of ${f.choices.join(', ')}`);
    if (f.type === 'list' && f.choices) extra.push(`any of ${f.choices.join(', ')}`);
    if (f.type === 'list' && f.length) extra.push(`${f.length} ${f.of === 'string' ? 'values' : `${f.of}s`}`);
    if (f.type === 'string' && f.multiple) extra.push('repeatable');
    if ((f.type === 'integer' || f.type === 'number') && f.min !== undefined) extra.push(`${f.type === 'number' && f.minExclusive ? '>' : '>='} ${f.min}`);
    const d = defaultOf(f);
    if (d !== undefined) extra.push(`default: ${d}`);
    if (f.env) extra.push(`env ${f.env}`);
    const text = `${f.description}${extra.length ? ` [${extra.join('; ')}]` : ''}`;
    const body = wrap(text, width, col + 2);
    const head = `  ${heads[i]!}`;
    if (head.length + 1 > col + 2) {
      out.push(head);
      body.forEach((l) => out.push(`${' '.repeat(col + 2)}${l}`));
    } else {
      body.forEach((l, k) => out.push(`${k === 0 ? head.padEnd(col + 2) : ' '.repeat(col + 2)}${l}`));
    }
  });
  for (const note of spec.notes ?? []) out.push('', ...note.split('\n'));
  return out.join('\n');
}

let activeCommand = 'cli';

/** Prints `COMMAND: message` on stderr and exits (2: a usage error; 1: the work could not be done). */
export function exitWithError(message: string, code = 2): never {
  process.stderr.write(`${activeCommand}: ${message}${code === 2 ? ' (see --help)' : ''}\n`);
  process.exit(code);
}

/**
 * The CLI entry: parses process.argv (or `argv`), prints --help and exits 0, or refuses a bad command
 * line in one line with exit code 2. Loads node's `util.parseArgs` when called (unless given one).
 */
export async function parseCli<const Flags extends Record<string, FlagSpec>>(
  spec: CliSpec<Flags>, opts: { argv?: readonly string[]; parseArgs?: ParseArgsFn } = {},
): Promise<CliValues<Flags>> {
  activeCommand = spec.command;
  const util = 'node:util';
  const parseArgs = opts.parseArgs ?? ((await import(/* @vite-ignore */ util)) as { parseArgs: ParseArgsFn }).parseArgs;
  let values: CliValues<Flags>;
  try {
    values = parseFlags(spec, opts.argv ?? process.argv.slice(2), parseArgs, process.env);
  } catch (e) {
    if (e instanceof CliUsageError) exitWithError(e.message);
    throw e;
  }
  if (values.help) {
    process.stdout.write(`${formatHelp(spec)}\n`);
    process.exit(0);
  }
  return values;
}

/**
 * The backend a command line named: checks the name first (an unknown one is a usage error that lists
 * the valid names; call after the backend packages are imported), then starts it with one line saying
 * which and why (`verbose`: the details too). Throws CliUsageError or the backend's own error.
 */
export async function startBackend(name: string | undefined, opts: { verbose?: boolean; log?: (line: string) => void } = {}): Promise<Backend> {
  try {
    checkBackendName(name);
  } catch (e) {
    if (e instanceof UnknownBackendError) {
      throw new CliUsageError(e.message.includes('unknown variant') ? e.message : `unknown backend '${e.requested}'; valid names: ${e.names.join(', ')}`);
    }
    throw e;
  }
  try {
    return await useBackend(name, opts);
  } catch (e) {
    // A factory that checks its own variants ('gpujs:nope') says so in its message, with the valid ones.
    const msg = (e as Error).message;
    if (/^[\w.-]+: unknown (mode|variant) '/.test(msg)) throw new CliUsageError(msg.split('\n')[0]!);
    throw e;
  }
}

/** `startBackend` for CLIs: a bad name exits 2 and a backend that cannot start exits 1, each in one line. */
export async function cliBackend(name: string | undefined, opts: { verbose?: boolean; log?: (line: string) => void } = {}): Promise<Backend> {
  try {
    return await startBackend(name, opts);
  } catch (e) {
    if (e instanceof CliUsageError) exitWithError(e.message);
    const msg = (e as Error).message;
    exitWithError(`backend ${name ?? 'best'} did not start: ${opts.verbose ? msg : msg.split('\n')[0]}`, 1);
  }
}

/** A line printer: stdout, or stderr when stdout carries JSON. */
export function cliLog(toStderr: boolean): (line: string) => void {
  return (line) => void (toStderr ? process.stderr : process.stdout).write(`${line}\n`);
}
