// `pnpm gradcheck`: every registered op (core's, and a user's own loaded with --import) on every backend
// asked for: the backend's forward and VJP against the float64 reference on seeded inputs at odd shapes,
// and the reference's VJP against central differences. Prints a table; exits 1 if any check fails.
// Usage: pnpm gradcheck [-- --op NAME] [--backend cpu,webgpu] [--import FILE] [--samples K] [--seed S] [--json]
// The --import files are bundled together with this file by examples/gradcheck.ts (with-imports.ts), so
// they share its core (one op registry, one Tensor class); here the flag is only parsed and listed in --help.
import * as C from '@cce/core';
import '@cce/cce'; // registers CCE's op cases
import '@cce/nn'; // registers causalAttention's
import { loadBackends } from '../backends.js';
import { importFlag } from '../with-imports.js';

const args = await C.parseCli({
  command: 'pnpm gradcheck',
  summary: 'Check every registered op: on each backend its forward and gradients against the float64 reference, and the ' +
    "reference's gradients against central differences. A user's ops join with --import FILE (a module that calls registerOp).",
  flags: {
    op: { type: 'string', placeholder: 'NAME', description: 'only ops whose name contains NAME' },
    backend: { type: 'list', of: 'string', placeholder: 'NAMES', defaultText: 'cpu and every other backend that starts here', description: 'backends to check (cpu, cpu:f64, webgpu, gpujs, gpujs:webasm, ...)' },
    import: importFlag,
    samples: { type: 'integer', min: 1, default: 64, placeholder: 'K', description: 'central differences on at most K elements of each input (drawn at random)' },
    seed: { type: 'integer', min: 0, default: 99, description: 'seed of the inputs, the output gradients and the sampled elements' },
    json: C.commonFlags.json,
    verbose: C.commonFlags.verbose,
  },
  notes: ['examples:\n  pnpm gradcheck\n  pnpm gradcheck -- --op matmul --backend webgpu\n  pnpm gradcheck -- --import examples/fused-op/register.ts --op rmsnorm'],
});
const log = C.cliLog(args.json);

await loadBackends();
const ops = C.registeredOps().filter((o) => args.op === undefined || o.name.includes(args.op));
if (!ops.length) C.exitWithError(`--op ${args.op}: no registered op matches (${C.registeredOps().length} registered)`);

// By default one backend per registered factory (cpu first), each in its default variant.
const names = args.backend ?? ['cpu', ...C.registeredBackends().filter((n) => n !== 'cpu')];
const backends: C.Backend[] = [];
for (const name of names) {
  try {
    const be = await C.startBackend(name, { log, verbose: args.verbose });
    if (backends.some((b) => b.name === be.name)) be.destroy();
    else backends.push(be);
  } catch (e) {
    if (args.backend) C.exitWithError(`backend ${name} did not start: ${(e as Error).message.split('\n')[0]}`, 1);
    log(`(${name} skipped: ${(e as Error).message.split('\n')[0]})`);
  }
}

const rows: C.OpCheckRow[] = [];
const started = performance.now();
for (const [i, op] of ops.entries()) {
  const ref = await C.checkOpReference(op, { seed: args.seed, samples: args.samples });
  if (ref) rows.push(ref);
  for (const be of backends) rows.push(...(await C.checkOpOnBackend(op, be, { seed: args.seed })));
  const bad = rows.filter((r) => r.op === op.name && !r.ok).length;
  log(`[${i + 1}/${ops.length}] ${op.name}${bad ? `: ${bad} FAILED` : ''}  (${((performance.now() - started) / 1000).toFixed(1)} s)`);
}
for (const be of backends) be.destroy();

const failed = rows.filter((r) => !r.ok);
if (args.json) {
  process.stdout.write(`${JSON.stringify({ ok: failed.length === 0, rows })}\n`);
} else {
  const fmt = (x: number) => (Number.isFinite(x) ? x.toExponential(2) : String(x));
  log('| op | backend | check | shapes | max abs error | max rel error | result |');
  log('|---|---|---|---|---:|---:|---|');
  for (const r of rows) {
    log(`| ${r.op} | ${r.backend} | ${r.what} | ${r.shapes.map((s) => `[${s}]`).join(' ')} | ${fmt(r.maxAbsError)} | ${fmt(r.maxRelError)} | ${r.ok ? 'pass' : `FAIL: ${r.detail}`} |`);
  }
  log(`${rows.length - failed.length} checks passed, ${failed.length} failed (${ops.length} ops on ${['cpu:f64 (central differences)', ...backends.map((b) => b.name)].join(', ')})`);
}
// Writes to a pipe are asynchronous, and exit() drops what is still queued: let the table drain first.
await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
process.exit(failed.length ? 1 : 0);
