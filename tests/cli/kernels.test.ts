// `pnpm kernels`: every kernel a registered op dispatches, as IR, WGSL and gpu.js source; the tuned
// variants on webgpu (lavapipe in CI); clear refusals of an unknown or ambiguous op and a bad --variant.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

const s = suite('cli: pnpm kernels');
let root = import.meta.dirname;
while (!existsSync(resolve(root, 'scripts/run-ts.mjs')) && dirname(root) !== root) root = dirname(root);
const kernels = (...args: string[]) => spawnSync(process.execPath, [resolve(root, 'scripts/run-ts.mjs'), 'examples/kernels.ts', ...args], { cwd: root, encoding: 'utf8' });

s('layerNorm affine on the reference: forward and backward kernels, each in the three forms', () => {
  const r = kernels('--op', 'layerNorm affine');
  assert.is(r.status, 0, r.stderr);
  const n = Number(/layerNorm affine on cpu: (\d+) kernels/.exec(r.stdout)?.[1]);
  assert.ok(n >= 3, r.stdout.slice(0, 300));
  for (const part of ['IR', 'WGSL', 'gpu.js']) assert.is((r.stdout.match(new RegExp(`^--- \\S+: ${part.replace('.', '\\.')} -`, 'gm')) ?? []).length, n, part);
  assert.match(r.stdout, /@compute @workgroup_size\(/);
  assert.match(r.stdout, /^function \(b_/m);
  assert.match(r.stdout, /ew_layernorm_backward/);
  const fwd = kernels('--op', 'layerNorm affine', '--forward-only');
  assert.ok(Number(/(\d+) kernels/.exec(fwd.stdout)?.[1]) < n, 'forward-only shows fewer kernels');
});

s('on webgpu a tuned matmul (workgroup memory) shows its WGSL and says gpu.js runs the map variant', () => {
  const r = kernels('--op', 'matmul tiled size', '--backend', 'webgpu', '--forward-only');
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /--- matmul_tiled_\S+: IR/);
  assert.match(r.stdout, /shared \w+: array<(vec4<)?f32>?, \d+>/);
  assert.match(r.stdout, /var<workgroup>/);
  assert.match(r.stdout, /not a map kernel: gpu\.js runs this op's map variant instead/);
});

s('a user op with --import: the RMSNorm example\'s workgroup variant on webgpu', () => {
  const r = kernels('--import', 'examples/fused-op/register.ts', '--op', 'rmsNorm workgroup', '--backend', 'webgpu');
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^rmsNorm workgroup on webgpu: \d+ kernels/);
  assert.match(r.stdout, /--- rmsnorm_rstd_wg: IR/);
  assert.match(r.stdout, /barrier\(\);/);
  assert.match(r.stdout, /workgroupBarrier\(\)/);
});

s('refusals: no such op, an ambiguous op, a bad --variant', () => {
  const none = kernels('--op', 'no-such-op');
  assert.is(none.status, 2);
  assert.match(none.stderr, /no registered op matches/);
  const many = kernels('--op', 'crossEntropy');
  assert.is(many.status, 2);
  assert.match(many.stderr, /--op crossEntropy matches 3 ops: 'crossEntropy mean', 'crossEntropy sum', 'crossEntropy none'/);
  const bad = kernels('--op', 'softmax', '--variant', 'nope=x');
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /--variant: 'nope' has variants/);
  const cannot = kernels('--op', 'softmax', '--variant', 'reduceRows=workgroup');
  assert.is(cannot.status, 1);
  assert.match(cannot.stderr, /softmax on cpu: reduceRows: forced variant 'workgroup' cannot run/);
});

s.run();
