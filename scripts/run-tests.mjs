// Runs every tests/**/*.test.ts with uvu: each file is bundled by esbuild (TypeScript, workspace
// imports), then all suites run in one process. Ends with the line "N passed, M failed".
// Usage: node scripts/run-tests.mjs [substring of test file paths]
import { build } from 'esbuild';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = resolve(import.meta.dirname, '..');
const filter = process.argv.slice(2).find((a) => a !== '--');
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name === 'node_modules') continue;
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.ts') && (!filter || relative(root, p).includes(filter))) files.push(p);
  }
};
walk(join(root, 'tests'));
files.sort();
if (!files.length) {
  console.error(`run-tests: no test files${filter ? ` match '${filter}'` : ''}`);
  process.exit(1);
}

const outdir = join(root, '.test-build');
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: files,
  outdir,
  outbase: root,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outExtension: { '.js': '.mjs' },
  // One uvu instance collects every suite; native and optional modules load at run time.
  external: ['uvu', 'uvu/*', 'webgpu', 'gpu.js', 'gl'],
  sourcemap: 'inline',
  logLevel: 'warning',
});

// Capture uvu's summary to print the closing line, and note when each file's header passes (uvu prints
// it as the file starts) to report the slowest files.
let captured = '';
const fileNames = new Set(files.map((f) => relative(root, f)));
const fileStarts = [];
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = (chunk, ...rest) => {
  const text = String(chunk);
  captured += text;
  if (captured.length > 65536) captured = captured.slice(-4096);
  for (const line of text.replace(/\x1b\[[0-9;]*m/g, '').split('\n')) {
    if (fileNames.has(line.trim())) fileStarts.push([line.trim(), Date.now()]);
  }
  return write(chunk, ...rest);
};

globalThis.UVU_DEFER = 1;
const uvu = await import('uvu');
let loadFailures = 0;
for (const [idx, file] of files.entries()) {
  const rel = relative(root, file);
  globalThis.UVU_INDEX = idx;
  globalThis.UVU_QUEUE.push([rel]);
  try {
    await import(pathToFileURL(join(outdir, rel.replace(/\.ts$/, '.mjs'))).href);
  } catch (e) {
    loadFailures++;
    console.error(`\n${rel} failed to load: ${e?.stack ?? e}`);
  }
}
const started = Date.now();
await uvu.exec(false);
process.stdout.write = write;
const plain = captured.replace(/\x1b\[[0-9;]*m/g, '');
const num = (label) => Number((plain.match(new RegExp(`${label}:\\s+(\\d+)`, 'g')) ?? []).pop()?.match(/(\d+)$/)?.[1] ?? 0);
const total = num('Total');
const passed = num('Passed');
const skipped = num('Skipped');
// uvu's Total counts the tests that ran; skipped ones (test.skip, or left out by test.only) are apart from it.
const failed = total - passed + loadFailures;
const ended = Date.now();
const fileTimes = fileStarts.map(([name, t], i) => [name, ((fileStarts[i + 1]?.[1] ?? ended) - t) / 1000]);
const slowest = fileTimes.sort((x, y) => y[1] - x[1]).slice(0, 8);
if (slowest.length > 1) console.log(`slowest files: ${slowest.map(([name, sec]) => `${name} ${sec.toFixed(1)} s`).join(', ')}`);
console.log(`tests ran in ${((ended - started) / 1000).toFixed(1)} s`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
