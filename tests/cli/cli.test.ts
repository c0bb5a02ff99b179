// The shared command-line helper (packages/core/src/cli.ts) and the backend line (registry.ts), tested as
// functions: --help text, refusals of unknown flags and bad values with the flag and value named, typed
// lists, environment defaults, unknown backend names answered with the valid ones, the one-line backend
// report, and backend names that round-trip. One real CLI is spawned, for its --help.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as C from '@cce/core';

const s = suite('cli');
/** The repository root (this file runs from a bundle under .test-build/). */
let root = import.meta.dirname;
while (!existsSync(resolve(root, 'scripts/run-ts.mjs')) && dirname(root) !== root) root = dirname(root);

const spec = {
  command: 'pnpm demo',
  summary: 'A demonstration command.',
  flags: {
    quick: { type: 'boolean', description: 'small shapes only' },
    reps: { type: 'integer', min: 1, default: 3, description: 'timed passes' },
    scale: { type: 'number', min: 0, minExclusive: true, description: 'a positive scale' },
    shape: { type: 'list', of: 'integer', length: 3, min: 1, placeholder: 'N,D,V', description: 'tokens, hidden size, vocabulary' },
    data: { type: 'list', of: 'string', choices: ['random', 'peaky'], default: ['random', 'peaky'], description: 'data kinds' },
    mode: { type: 'enum', choices: ['fast', 'exact'], default: 'fast', description: 'how to run' },
    backend: C.commonFlags.backend,
    dawn: { type: 'string', multiple: true, description: 'a Dawn option' },
  },
} as const satisfies C.CliSpec;

const parse = (argv: string[], env: Record<string, string> = {}) => C.parseFlags(spec, argv, parseArgs, env);

/** The CliUsageError message of parsing argv (fails the test when it parses). */
function refusal(argv: string[], env: Record<string, string> = {}): string {
  try {
    parse(argv, env);
  } catch (e) {
    assert.instance(e, C.CliUsageError);
    const msg = (e as Error).message;
    assert.not.match(msg, /\n/, 'one line');
    return msg;
  }
  assert.unreachable(`accepted ${argv.join(' ')}`);
  return '';
}

s('--help lists every flag with its meaning and default', () => {
  const help = C.formatHelp(spec);
  assert.match(help, /^usage: pnpm demo \[-- flags\]/);
  for (const [name, f] of Object.entries(spec.flags)) {
    assert.ok(help.includes(`--${name}`), `--${name} listed`);
    assert.ok(help.replace(/\s+/g, ' ').includes(f.description.split(' ').slice(0, 2).join(' ')), `--${name} described`);
  }
  assert.match(help, /--shape N,D,V/);
  assert.match(help, /default: 3/);
  assert.match(help, /default: random,peaky/);
  assert.match(help, /one of fast, exact; default: fast/);
  assert.match(help, /env CCE_BACKEND/);
  assert.match(help, /-h, --help/);
  assert.is(parse(['--help']).help, true);
  assert.is(parse(['-h']).help, true);
});

s('values are typed, defaults and environment apply, a leading -- is dropped', () => {
  const v = parse(['--', '--quick', '--reps', '5', '--shape', '8192,768,50304', '--data=peaky', '--dawn', 'a', '--dawn', 'b']);
  assert.is(v.quick, true);
  assert.is(v.reps, 5);
  assert.equal(v.shape, [8192, 768, 50304]);
  assert.equal(v.data, ['peaky']);
  assert.equal(v.dawn, ['a', 'b']);
  assert.is(v.mode, 'fast');
  assert.is(v.scale, undefined);
  assert.is(v.backend, 'best');
  const d = parse([]);
  assert.is(d.quick, false);
  assert.is(d.reps, 3);
  assert.equal(d.data, ['random', 'peaky']);
  assert.is(parse([], { CCE_BACKEND: 'cpu:f64' }).backend, 'cpu:f64');
  assert.is(parse(['--backend', 'cpu'], { CCE_BACKEND: 'webgpu' }).backend, 'cpu');
  assert.is(parse(['--scale=0.5']).scale, 0.5);
});

s('unknown flags are refused in one line, with the nearest flag', () => {
  assert.is(refusal(['--foo']), 'unknown flag --foo');
  assert.is(refusal(['--quik']), 'unknown flag --quik (did you mean --quick?)');
  assert.is(refusal(['-q']), 'unknown flag -q');
  assert.match(refusal(['stray']), /^unexpected argument 'stray'/);
  assert.is(refusal(['--reps']), '--reps needs a value');
  assert.is(refusal(['--quick=yes']), '--quick takes no value');
});

s('bad integers, numbers and enums are refused naming the flag and the value', () => {
  assert.is(refusal(['--reps', 'x']), "--reps: expected an integer, got 'x'");
  assert.is(refusal(['--reps', '2.5']), "--reps: expected an integer, got '2.5'");
  assert.is(refusal(['--reps', '0']), "--reps: must be at least 1, got '0'");
  assert.is(refusal(['--reps=-3']), "--reps: must be at least 1, got '-3'");
  assert.is(refusal(['--scale', 'abc']), "--scale: expected a number, got 'abc'");
  assert.is(refusal(['--scale', '0']), "--scale: must be greater than 0, got '0'");
  assert.is(refusal(['--mode', 'slow']), "--mode: expected one of fast, exact, got 'slow'");
  assert.match(refusal(['--reps', '-1']), /^--reps needs a value; for a value that starts with '-', write --reps=VALUE/);
});

s('lists: length, item types and allowed values are checked', () => {
  assert.is(refusal(['--shape', '8192,768']), "--shape: expected 3 comma-separated integers (N,D,V), got 2 in '8192,768'");
  assert.is(refusal(['--shape', '8192,x,50304']), "--shape item 2: expected an integer, got 'x'");
  assert.is(refusal(['--shape', '8192,0,50304']), "--shape item 2: must be at least 1, got '0'");
  assert.is(refusal(['--shape', '1,,3']), "--shape: expected comma-separated integers (N,D,V), got '1,,3'");
  assert.is(refusal(['--data', 'random,bad']), "--data item 2: expected one of random, peaky, got 'bad'");
  assert.equal(parse(['--data', ' peaky , random ']).data, ['peaky', 'random']);
  assert.is(parse([], { CCE_BACKEND: '' }).backend, 'best', 'an empty variable is ignored');
});

s('an unknown backend name is answered with the list of valid names', async () => {
  const names = C.backendNames();
  for (const n of ['best', 'cpu', 'cpu:f32', 'cpu:f64']) assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);
  try {
    await C.startBackend('nope', { log: () => {} });
    assert.unreachable('accepted nope');
  } catch (e) {
    assert.instance(e, C.CliUsageError);
    assert.is((e as Error).message, `unknown backend 'nope'; valid names: ${names.join(', ')}`);
  }
  await C.startBackend('cpu:f16', { log: () => {} }).then(
    () => assert.unreachable('accepted cpu:f16'),
    (e: Error) => assert.is(e.message, "backend 'cpu:f16': unknown variant 'f16' (use cpu, cpu:f32, cpu:f64)"));
  assert.throws(() => C.checkBackendName('nope'), (e: unknown) => e instanceof C.UnknownBackendError && e.names.includes('cpu:f64'));
});

s('backend names round-trip: the name a backend reports is one useBackend accepts', async () => {
  const prev = C.getBackendOrNull();
  try {
    for (const name of ['cpu', 'cpu:f32', 'cpu:f64']) {
      const b = await C.useBackend(name, { log: () => {} });
      C.checkBackendName(b.name);
      const again = await C.useBackend(b.name, { log: () => {} });
      assert.is(again.name, b.name, `${name} reports ${b.name}`);
      assert.is(again.description, b.description);
    }
    assert.is(new C.CpuBackend({ precision: 'f64' }).name, 'cpu:f64');
  } finally {
    C.setBackend(prev);
  }
});

s('the backend line is one short line: name, detail, and why', async () => {
  const lines: string[] = [];
  const prev = C.getBackendOrNull();
  const b = await C.useBackend('cpu:f64', { log: (l) => lines.push(l) });
  C.setBackend(prev);
  assert.equal(lines, ['backend: cpu:f64 (reference IR interpreter, f64, subgroup size 32) — as requested']);
  const verbose: string[] = [];
  await C.useBackend('cpu', { log: (l) => verbose.push(l), verbose: true });
  C.setBackend(prev);
  assert.is(verbose.length, 2);
  assert.is(verbose[1], '  cpu: reference IR interpreter, f32, subgroup size 32');

  const lavapipe = 'mesa / software / llvmpipe-llvm-15-0-6-256-bits- / llvmpipe: Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6) 0.0.1';
  const h100 = 'nvidia / nvidia-h100-80gb-hbm3 / NVIDIA: 580.159.04 580.159.4.0';
  assert.is(C.shortAdapterName(lavapipe), 'llvmpipe');
  assert.is(C.shortAdapterName(h100), 'nvidia-h100-80gb-hbm3');
  const fake = (name: string, description: string) => ({ ...b, name, description }) as C.Backend;
  assert.is(C.formatBackendLine(fake('webgpu', `${h100}; subgroups 32; bindings up to 2.0 GiB`)), 'backend: webgpu (nvidia-h100-80gb-hbm3) — best available');
  assert.is(C.formatBackendLine(fake('webgpu', `${lavapipe}; subgroups 8`), [], true), 'backend: webgpu (llvmpipe, software adapter) — as requested');
  const webasm = fake('gpujs:webasm', "gpu.js 'webasm' mode (auto): WebAssembly SIMD, worker threads; skipped webgpu: " +
    `${lavapipe} (software) is a software adapter (ranked after webasm); headlessgl: the native 'gl' addon does not load`);
  const line = C.formatBackendLine(webasm, [{ name: 'webgpu', message: `only a software adapter answered (${lavapipe}); name the backend 'webgpu' to use it` }]);
  assert.is(line, 'backend: gpujs:webasm (WebAssembly SIMD, worker threads) — webgpu skipped: software adapter (llvmpipe)');
  assert.is(C.shortReason("webgpu: no WebGPU adapter found through Dawn. WebGPU needs a driver: on Linux ...", 'webgpu'), 'no WebGPU adapter found through Dawn');
  assert.is(C.shortReason("webgpu: cannot load the npm package 'webgpu' (Dawn's Node binding): x", 'webgpu'), "cannot load the npm package 'webgpu'");
  assert.ok(C.shortReason('x'.repeat(200)).length <= 60);
});

s('the helper keeps Node out of core at the top level', () => {
  for (const file of ['packages/core/src/cli.ts', 'packages/core/src/registry.ts']) {
    const src = readFileSync(resolve(root, file), 'utf8');
    assert.not.match(src, /^import[^;]*from 'node:/m, `${file} imports node: at the top level`);
  }
});

s('a real CLI answers --help with its flags and exit code 0', () => {
  const r = spawnSync(process.execPath, [resolve(root, 'scripts/run-ts.mjs'), 'examples/mlp.ts', '--help'], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^usage: pnpm example:mlp/);
  for (const flag of ['--backend NAME', '--steps N', '--lr N', '--verbose', '--help']) assert.ok(r.stdout.includes(flag), `${flag} in\n${r.stdout}`);
  assert.match(r.stdout, /default: 300/);
});

s.run();
