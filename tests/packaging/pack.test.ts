// The packages as another project gets them: `pnpm build`, `pnpm pack` of every package, a fresh project
// outside the repository that installs the tarballs offline (from the store the workspace's install
// filled), type-checks and runs the README's "Using it" program (examples/using-it.mjs, which must be the
// README's block verbatim). Its loss and gradient norms are checked against a float64 recomputation in
// plain JavaScript, and it must pick the same backend as the same program run inside the workspace.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import * as C from '@cce/core';

const s = suite('packaging');
/** The repository root (this file runs from a bundle under .test-build/). */
let root = import.meta.dirname;
while (!existsSync(resolve(root, 'scripts/build-packages.mjs')) && dirname(root) !== root) root = dirname(root);

const PACKAGES = ['core', 'nn', 'cce', 'backend-webgpu', 'backend-gpujs'];
const EXAMPLE = 'examples/using-it.mjs';
// The example's inputs: examples/using-it.mjs makes them with these shapes and seeds.
const [N, D, V] = [64, 32, 1000];

const work = realpathSync(mkdtempSync(join(tmpdir(), 'cce-pack-test-')));
const tarballs = join(work, 'tarballs');
const app = join(work, 'app');
const tarballOf = new Map<string, string>(); // package name -> tarball path
let workspaceOutput = '';

interface Run { status: number | null; stdout: string; stderr: string }
function run(cmd: string, args: string[], cwd: string, timeout = 300_000): Run {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
function mustRun(cmd: string, args: string[], cwd: string, timeout?: number): string {
  const r = run(cmd, args, cwd, timeout);
  if (r.status !== 0) {
    throw new Error(`'${cmd} ${args.join(' ')}' in ${cwd} exited with ${r.status}:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
  }
  return r.stdout;
}

/** The float64 loss and gradient norms of the example's problem, from its inputs' values. */
async function reference(): Promise<{ loss: number; gradHidden: number; gradClassifier: number }> {
  const cpu = new C.CpuBackend();
  const h = await C.randn([N, D], { seed: 1, backend: cpu }).toArray();
  const c = await C.randn([V, D], { seed: 2, std: 0.1, backend: cpu }).toArray();
  const t = await C.randint([N], 0, V, { seed: 3, backend: cpu }).toArray();
  let loss = 0;
  const dH = new Float64Array(N * D);
  const dC = new Float64Array(V * D);
  const z = new Float64Array(V);
  for (let i = 0; i < N; i++) {
    let max = -Infinity;
    for (let v = 0; v < V; v++) {
      let dot = 0;
      for (let d = 0; d < D; d++) dot += h[i * D + d]! * c[v * D + d]!;
      z[v] = dot;
      max = Math.max(max, dot);
    }
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(z[v]! - max);
    const lse = max + Math.log(sum);
    loss += (lse - z[t[i]!]!) / N;
    for (let v = 0; v < V; v++) {
      const g = (Math.exp(z[v]! - lse) - (v === t[i] ? 1 : 0)) / N; // d loss / d logit
      for (let d = 0; d < D; d++) {
        dH[i * D + d]! += g * c[v * D + d]!;
        dC[v * D + d]! += g * h[i * D + d]!;
      }
    }
  }
  const norm = (a: Float64Array) => Math.sqrt(a.reduce((acc, x) => acc + x * x, 0));
  return { loss, gradHidden: norm(dH), gradClassifier: norm(dC) };
}

/** The example's printed backend line and numbers. */
function parseOutput(stdout: string) {
  const line = (re: RegExp, what: string) => {
    const m = stdout.match(re);
    if (!m) throw new Error(`the example printed no ${what}:\n${stdout}`);
    return m;
  };
  return {
    backendLine: line(/^backend: .*$/m, 'backend line')[0],
    backend: line(/^backend: (\S+)/m, 'backend name')[1]!,
    loss: Number(line(/^loss (\S+)$/m, 'loss')[1]),
    gradHidden: Number(line(/^\|d loss \/ d hidden\| (\S+)$/m, 'hidden gradient norm')[1]),
    gradClassifier: Number(line(/^\|d loss \/ d classifier\| (\S+)$/m, 'classifier gradient norm')[1]),
  };
}

async function checkNumbers(stdout: string, where: string) {
  const got = parseOutput(stdout);
  const want = await reference();
  for (const key of ['loss', 'gradHidden', 'gradClassifier'] as const) {
    assert.ok(Number.isFinite(got[key]), `${where}: ${key} is ${got[key]}`);
    // Printed with 6 decimals (half a unit of the last is 5e-7), from f32 arithmetic.
    const tol = 1e-6 + 2e-5 * Math.abs(want[key]);
    assert.ok(Math.abs(got[key] - want[key]) <= tol, `${where}: ${key} ${got[key]}, float64 recomputation ${want[key]} (tolerance ${tol})`);
  }
  // A fallback to the reference interpreter would mean that neither GPU backend package loaded.
  assert.ok(/^(webgpu|gpujs)/.test(got.backend), `${where}: backend ${got.backend}, not a GPU backend (${got.backendLine})`);
  return got;
}

s("the README's 'Using it' block is examples/using-it.mjs", () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.split(/^## Using it$/m)[1];
  assert.ok(section, "README.md has a '## Using it' section");
  const block = section!.match(/^```js\n([\s\S]*?)^```$/m);
  assert.ok(block, "the 'Using it' section has a ```js block");
  assert.fixture(block![1]!, readFileSync(join(root, EXAMPLE), 'utf8'));
});

s('the example runs in the workspace, from the sources', async () => {
  workspaceOutput = mustRun(process.execPath, [join(root, 'scripts/run-ts.mjs'), EXAMPLE], root);
  await checkNumbers(workspaceOutput, 'workspace');
});

s('pnpm build writes each package\'s dist/ (JavaScript and declarations)', () => {
  mustRun('pnpm', ['build'], root);
  for (const name of PACKAGES) {
    for (const file of ['index.js', 'index.d.ts']) {
      assert.ok(existsSync(join(root, 'packages', name, 'dist', file)), `packages/${name}/dist/${file}`);
    }
  }
});

s('pnpm pack makes tarballs with dist entry points and no workspace: versions', () => {
  mustRun('pnpm', ['-r', '--filter', './packages/*', 'pack', '--pack-destination', tarballs], root);
  const files = readdirSync(tarballs).filter((f) => f.endsWith('.tgz'));
  assert.is(files.length, PACKAGES.length, `tarballs: ${files.join(', ')}`);
  for (const file of files) {
    const into = join(work, 'unpacked', file);
    mkdirSync(into, { recursive: true });
    mustRun('tar', ['-xzf', join(tarballs, file), '-C', into], work);
    const pkgDir = join(into, 'package');
    const manifest = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
    tarballOf.set(manifest.name, join(tarballs, file));
    assert.not.ok(manifest.private, `${manifest.name} is not private`);
    assert.equal(manifest.exports['.'], { types: './dist/index.d.ts', import: './dist/index.js' }, `${manifest.name} exports`);
    for (const target of Object.values(manifest.exports['.']) as string[]) {
      assert.ok(existsSync(join(pkgDir, target)), `${manifest.name}: ${target} is in the tarball`);
    }
    assert.not.ok(existsSync(join(pkgDir, 'src')), `${manifest.name}: no sources in the tarball`);
    for (const [dep, version] of Object.entries(manifest.dependencies ?? {}) as [string, string][]) {
      assert.not.match(version, /^workspace:/, `${manifest.name} -> ${dep}@${version}`);
      if (dep.startsWith('@cce/')) assert.is(version, manifest.version, `${manifest.name} -> ${dep}`);
    }
  }
  assert.equal([...tarballOf.keys()].sort(), PACKAGES.map((p) => (p === 'cce' ? '@cce/cce' : `@cce/${p}`)).sort());
});

s('a fresh project installs the tarballs offline, type-checks and runs the example', async () => {
  mkdirSync(app, { recursive: true });
  const spec = (name: string) => `file:${relative(app, tarballOf.get(name)!)}`;
  const dependencies = Object.fromEntries([...tarballOf.keys()].sort().map((name) => [name, spec(name)]));
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'cce-consumer', private: true, type: 'module', dependencies }, null, 2));
  // What the README's Install section tells a user to put in pnpm-workspace.yaml.
  writeFileSync(join(app, 'pnpm-workspace.yaml'), [
    'allowBuilds:',
    '  webgpu: false',
    '  gl: false',
    'overrides:',
    '  "gpu.js>webgpu": 0.6.2',
    // Every package another one depends on resolves to its tarball (nn depends on cce, all on core).
    ...[...tarballOf.keys()].sort().map((name) => `  "${name}": "${spec(name)}"`),
    '',
  ].join('\n'));
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', lib: ['ES2022', 'DOM'],
      allowJs: true, checkJs: true, noEmit: true, types: [], skipLibCheck: true,
    },
    files: ['using-it.mjs', 'imports.mjs'],
  }, null, 2));
  copyFileSync(join(root, EXAMPLE), join(app, 'using-it.mjs'));
  // Every package imports by its name, with its declarations.
  writeFileSync(join(app, 'imports.mjs'), [
    "import { Tensor } from '@cce/core';",
    "import { Linear } from '@cce/nn';",
    "import { linearCrossEntropy } from '@cce/cce';",
    "import { WebGpuBackend } from '@cce/backend-webgpu';",
    "import { GpujsBackend } from '@cce/backend-gpujs';",
    'console.log([Tensor, Linear, linearCrossEntropy, WebGpuBackend, GpujsBackend].map((x) => typeof x).join(" "));',
    '',
  ].join('\n'));

  const install = run('pnpm', ['install', '--offline'], app);
  assert.is(install.status, 0, `pnpm install --offline failed (the store and metadata cache come from the workspace's pnpm install):\n${install.stdout.slice(-4000)}\n${install.stderr.slice(-4000)}`);
  const lock = readFileSync(join(app, 'pnpm-lock.yaml'), 'utf8');
  assert.ok(/webgpu@0\.6\.2/.test(lock) && !/webgpu@0\.2\./.test(lock), 'gpu.js gets webgpu 0.6.2');
  const cores = readdirSync(join(app, 'node_modules', '.pnpm')).filter((d) => d.startsWith('@cce+core@'));
  assert.is(cores.length, 1, `one @cce/core, the tarball: ${cores.join(', ')}`);
  assert.match(cores[0]!, /tgz/);

  mustRun(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], app);
  assert.is(mustRun(process.execPath, ['imports.mjs'], app).trim(), 'function function function function function');

  const out = mustRun(process.execPath, ['using-it.mjs'], app);
  const got = await checkNumbers(out, 'consumer');
  assert.is(got.backendLine, parseOutput(workspaceOutput).backendLine, 'the same backend, for the same reason, as in the workspace');
});

s.after(() => {
  rmSync(work, { recursive: true, force: true });
});

s.run();
