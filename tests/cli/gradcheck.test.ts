// `pnpm gradcheck` end to end: every registered op on cpu and webgpu (lavapipe in CI) passes; the RMSNorm
// example registered with --import passes on every backend; two deliberately wrong user ops (a VJP off by
// a factor, a backward reading past its input) fail with the op, the backend and the element named.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

const s = suite('cli: pnpm gradcheck');
let root = import.meta.dirname;
while (!existsSync(resolve(root, 'scripts/run-ts.mjs')) && dirname(root) !== root) root = dirname(root);
const gradcheck = (...args: string[]) => spawnSync(process.execPath, [resolve(root, 'scripts/run-ts.mjs'), 'examples/gradcheck.ts', ...args], { cwd: root, encoding: 'utf8' });
/** The summary line (found by its words: a backend may print warnings of its own after it). */
const summary = (out: string) => out.split('\n').find((l) => /^\d+ checks passed, \d+ failed/.test(l)) ?? `(no summary line in: ${out.slice(-2000)})`;

s('every registered op passes on cpu and webgpu', () => {
  const r = gradcheck('--backend', 'cpu,webgpu', '--samples', '16');
  assert.is(r.status, 0, r.stdout.slice(-3000) + r.stderr);
  assert.match(summary(r.stdout), /^\d+ checks passed, 0 failed \((\d+) ops on cpu:f64 \(central differences\), cpu, webgpu\)$/);
  const ops = Number(/\((\d+) ops/.exec(summary(r.stdout))![1]);
  assert.ok(ops >= 60, `${ops} ops`);
  assert.match(r.stdout, /\| matmul batched \| webgpu \| grad of input 1 \| \[3,5,7\] \[3,7,9\] \| [\d.e+-]+ \| [\d.e+-]+ \| pass \|/);
});

s('a user op registered with --import: the RMSNorm example on every backend', () => {
  const r = gradcheck('--import', 'examples/fused-op/register.ts', '--op', 'rmsNorm', '--backend', 'cpu,webgpu,gpujs:webasm');
  assert.is(r.status, 0, r.stdout.slice(-3000) + r.stderr);
  assert.match(summary(r.stdout), /checks passed, 0 failed \(4 ops on cpu:f64 \(central differences\), cpu, webgpu, gpujs:webasm\)/);
});

s('wrong user ops fail, naming the op, the backend and the element', () => {
  const r = gradcheck('--import', 'tests/cli/fixtures/wrong-ops.ts', '--op', 'wrong', '--backend', 'cpu,webgpu');
  assert.is(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /\| wrong vjp \| cpu:f64 \| gradcheck \| \[3,5\] \| .* \| FAIL: input 0 element \d+: analytic -?[\d.]+, numeric -?[\d.]+/);
  assert.match(r.stdout, /\| wrong out-of-bounds backward \| cpu:f64 \| gradcheck \| .* FAIL: threw: cpu: kernel 'reads_past_end' of op 'outOfBoundsBackward \(backward\)': read of 'x'\[7\] out of bounds \(length 7\)/);
  assert.match(r.stdout, /\| wrong out-of-bounds backward \| webgpu \| the f64 reference run \| .* FAIL/);
  assert.match(summary(r.stdout), / [1-9]\d* failed/);
});

s('bad input: no matching op, a missing --import file', () => {
  const none = gradcheck('--op', 'no-such-op', '--backend', 'cpu');
  assert.is(none.status, 2);
  assert.match(none.stderr, /--op no-such-op: no registered op matches/);
  const missing = gradcheck('--import', 'nowhere.ts');
  assert.is(missing.status, 2);
  assert.match(missing.stderr, /--import nowhere\.ts: no such file/);
});

s.run();
