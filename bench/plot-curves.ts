// Loss curves of one or more `pnpm train` runs in one SVG: each run's validation loss (solid) and its
// training loss (dashed, the same colour), read from the runs' metrics.jsonl files.
//   node scripts/run-ts.mjs bench/plot-curves.ts --out curves.svg [--title T] NAME=metrics.jsonl [NAME=metrics.jsonl ...]
import * as C from '@cce/core';
import { readFileSync, writeFileSync } from 'node:fs';
import { PALETTE, lossCurveSvg, type CurveSeries } from '../examples/train-gpt/loss-curve.js';

const args = await C.parseCli({
  command: 'node scripts/run-ts.mjs bench/plot-curves.ts',
  summary: "Draws the loss curves of `pnpm train` runs into one SVG file: each run's validation loss (solid) and " +
    'training loss (dashed, same colour), from its metrics.jsonl (one JSON record a line: step, loss, valLoss when evaluated).',
  positionals: 'NAME=metrics.jsonl [NAME=metrics.jsonl ...]',
  flags: {
    out: { type: 'string', placeholder: 'FILE.svg', description: 'the SVG file to write (required)' },
    title: { type: 'string', default: 'loss', description: 'the chart title' },
    width: { type: 'integer', min: 200, default: 760, description: 'width in pixels' },
    height: { type: 'integer', min: 150, default: 440, description: 'height in pixels' },
  },
  notes: ['example: node scripts/run-ts.mjs bench/plot-curves.ts --out /tmp/tiny.svg --title "tiny, 2000 steps" ' +
    'h200=bench/results/h200-2026-12-01/train-tiny/metrics.jsonl'],
});

interface RunRecord { step: number; loss: number; valLoss?: number }

/** The records of one metrics file; a usage error (one line) when it is missing, malformed or empty. */
function readMetrics(path: string): RunRecord[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new C.CliUsageError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const records: RunRecord[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let r: { step?: unknown; loss?: unknown; valLoss?: unknown };
    try {
      r = JSON.parse(line);
    } catch {
      throw new C.CliUsageError(`${path} line ${i + 1}: not JSON`);
    }
    if (typeof r !== 'object' || r === null || typeof r.step !== 'number') throw new C.CliUsageError(`${path} line ${i + 1}: no numeric "step"`);
    // A NaN loss is written to JSON as null: keep it as NaN, which the chart draws as a gap.
    const num = (v: unknown) => (typeof v === 'number' ? v : NaN);
    records.push({ step: r.step, loss: num(r.loss), ...(r.valLoss !== undefined ? { valLoss: num(r.valLoss) } : {}) });
  });
  if (!records.length) throw new C.CliUsageError(`${path}: no records`);
  return records;
}

try {
  if (!args.out) throw new C.CliUsageError('--out FILE.svg is required');
  if (!args._.length) throw new C.CliUsageError('give at least one NAME=metrics.jsonl');
  const series: CurveSeries[] = [];
  args._.forEach((arg, i) => {
    const m = /^([^=]+)=(.+)$/.exec(arg);
    if (!m) throw new C.CliUsageError(`expected NAME=metrics.jsonl, got '${arg}'`);
    const [, name, path] = m as unknown as [string, string, string];
    const records = readMetrics(path);
    const color = PALETTE[i % PALETTE.length]!;
    series.push({ name: `${name} validation`, color, points: records.filter((r) => r.valLoss !== undefined).map((r) => ({ step: r.step, value: r.valLoss! })) });
    series.push({ name: `${name} train`, color, dashed: true, points: records.map((r) => ({ step: r.step, value: r.loss })) });
  });
  writeFileSync(args.out, lossCurveSvg(series, { title: args.title, width: args.width, height: args.height }));
  process.stdout.write(`wrote ${args.out} (${args._.length} run${args._.length > 1 ? 's' : ''})\n`);
} catch (e) {
  if (e instanceof C.CliUsageError) C.exitWithError(e.message);
  C.exitWithError(`${(e as Error).message.split('\n')[0]}`, 1);
}
