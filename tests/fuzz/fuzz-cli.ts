// `pnpm fuzz`: the fuzz properties from the command line, with any seed, number of runs, sizes and
// backends (the CI suite, fuzz.test.ts, runs the same properties with a fixed seed). Exits 1 when a
// property fails; each failure prints the seed, fast-check's path, the counterexample and how to replay it.
import * as C from '@cce/core';
import { BACKEND_NAMES, CI_LIMITS, type RunSettings, createFuzzBackend, properties, runProperty, surveyProperty } from './runner.js';

const args = await C.parseCli({
  command: 'pnpm fuzz',
  summary: 'Runs the property-based fuzz suite (tests/fuzz): random shapes (0 and 1 included), options and values '
    + '(+inf, -inf and NaN included) for linearCrossEntropy and the core ops, on each backend named, against the float64 '
    + 'reference interpreter. A failure prints the seed, the path and the shrunk counterexample, and the command that '
    + 'replays it. Exit code 1 when a property fails.',
  flags: {
    seed: { type: 'integer', placeholder: 'S', defaultText: 'random, printed', description: 'fast-check seed' },
    runs: { type: 'integer', placeholder: 'K', min: 1, default: 100, description: 'inputs per property' },
    backend: { type: 'list', of: 'string', choices: BACKEND_NAMES, default: ['cpu'], placeholder: 'B,...', description: 'backends to test (cpu is the f32 interpreter)' },
    property: { type: 'list', of: 'string', placeholder: 'P,...', description: 'only these properties: names or prefixes (cce, core.matmul; see --list)' },
    path: { type: 'string', placeholder: 'PATH', description: "replay fast-check's path of a reported failure (with its seed, one property, one backend)" },
    'max-n': { type: 'integer', min: 1, default: CI_LIMITS.maxN, description: 'most tokens of a CCE case and rows of crossEntropy' },
    'max-d': { type: 'integer', min: 1, default: CI_LIMITS.maxD, description: 'most features of a CCE case' },
    'max-v': { type: 'integer', min: 2, default: CI_LIMITS.maxV, description: 'largest vocabulary' },
    'max-dim': { type: 'integer', min: 2, default: CI_LIMITS.maxDim, description: "largest dimension of a core op's tensors" },
    flags: { type: 'enum', choices: ['any', 'all-or-none'], default: 'any', description: 'CCE options that select kernel code (bias, softcap, labelSmoothing, zLoss): drawn each on its own, or all on or all off (fewer shaders to compile, as CI does on webgpu)' },
    shrink: { type: 'integer', min: 0, default: 500, description: 'candidates evaluated while shrinking a failure' },
    survey: { type: 'boolean', description: 'check every input without stopping or shrinking, and print each kind of failure once with its count' },
    list: { type: 'boolean', description: 'list the properties and exit' },
  },
  notes: [`properties:\n${properties.map((p) => `  ${p.name.padEnd(18)} ${p.about}`).join('\n')}`],
});

async function main(): Promise<number> {
  if (args.list) {
    for (const p of properties) console.log(`${p.name.padEnd(18)} ${p.about}`);
    return 0;
  }
  const settings: RunSettings = {
    seed: args.seed ?? Math.floor(Math.random() * 2 ** 31),
    runs: args.runs,
    limits: { maxN: args['max-n'], maxD: args['max-d'], maxV: args['max-v'], maxDim: args['max-dim'], kernelFlags: args.flags },
    path: args.path,
    shrinkBudget: args.shrink,
  };
  const backends = args.backend;
  let selected = properties;
  if (args.property) {
    const wanted = args.property;
    selected = properties.filter((p) => wanted.some((w) => p.name === w || p.name.startsWith(w)));
    if (!selected.length) C.exitWithError(`--property: no property matches '${wanted.join(',')}' (see --list)`);
  }
  if (settings.path && (selected.length !== 1 || backends.length !== 1)) C.exitWithError('--path replays one property on one backend: give --property and --backend');
  const l = settings.limits;
  console.log(`fuzz: seed ${settings.seed}, ${settings.runs} runs per property, N <= ${l.maxN}, D <= ${l.maxD}, V <= ${l.maxV}, dims <= ${l.maxDim}, kernel flags ${l.kernelFlags}; backends ${backends.join(', ')}`);
  const truth = new C.CpuBackend({ precision: 'f64' });
  const failures: string[] = [];
  const started = Date.now();
  const tty = process.stdout.isTTY;
  for (const name of backends) {
    let backend: C.Backend;
    try {
      backend = await createFuzzBackend(name);
    } catch (err) {
      console.log(`${name}: cannot create the backend: ${(err as Error).message}`);
      failures.push(`${name}: no backend`);
      continue;
    }
    for (const [k, p] of selected.entries()) {
      const head = `[${k + 1}/${selected.length}] ${name} ${p.name}`;
      const progress = (n: number, failing: boolean) => {
        if (tty) process.stdout.write(`\r${head}: ${failing ? `failed, shrinking (${n} evaluated)` : `${n}/${settings.runs}`}\x1b[K`);
      };
      if (args.survey) {
        const sv = await surveyProperty(p, { backend, truth }, settings, (n, f) => { if (tty) process.stdout.write(`\r${head}: ${n}/${settings.runs}, ${f} failed\x1b[K`); });
        if (tty) process.stdout.write('\r\x1b[K');
        const failed = sv.groups.reduce((a, g) => a + g.count, 0);
        console.log(`${head}: ${failed} of ${sv.evaluated} inputs failed, ${sv.groups.length} kinds (${(sv.ms / 1000).toFixed(1)} s)`);
        for (const g of sv.groups) console.log(`  ${g.count} x ${g.signature}\n    first: ${g.example.split('\n').join('\n    ')}\n    input: ${g.input}`);
        if (failed) failures.push(`${name} ${p.name}`);
        continue;
      }
      const out = await runProperty(p, { backend, truth }, name, settings, progress);
      if (tty) process.stdout.write('\r\x1b[K');
      const secs = (out.ms / 1000).toFixed(1);
      if (out.ok) console.log(`${head}: ${settings.runs} runs passed in ${secs} s`);
      else {
        console.log(`${head}: FAILED after ${out.evaluated} evaluated inputs (${secs} s)\n${out.report}\n`);
        failures.push(`${name} ${p.name}`);
      }
    }
  }
  const total = ((Date.now() - started) / 1000).toFixed(1);
  console.log(failures.length ? `fuzz: ${failures.length} failed (${failures.join('; ')}) in ${total} s` : `fuzz: all passed in ${total} s`);
  return failures.length ? 1 : 0;
}

process.exitCode = await main();
// gpu.js and WebGPU keep handles open: exit once done.
process.exit();
