// Builds every package under packages/ for use outside this workspace: packages/<name>/dist/index.js
// (one ES module per package from its own src/, every bare import — its dependencies, the other @cce/*
// packages, node: builtins — left external) and dist/**/*.d.ts (tsc, declarations only).
// Inside the workspace the packages resolve to src/index.ts and need no build; `pnpm pack` puts the dist
// entry points into the packed package.json (each package's publishConfig).
// Usage: node scripts/build-packages.mjs        (then, per package: pnpm pack)
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const packagesDir = join(root, 'packages');
const names = readdirSync(packagesDir).filter((n) => existsSync(join(packagesDir, n, 'src', 'index.ts'))).sort();
const scratch = mkdtempSync(join(tmpdir(), 'cce-build-'));
const started = Date.now();

const walk = (dir, out = []) => {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
};

try {
  for (const name of names) rmSync(join(packagesDir, name, 'dist'), { recursive: true, force: true });

  // JavaScript: one bundle of the package's own modules per package.
  await Promise.all(names.map((name) => build({
    entryPoints: [join(packagesDir, name, 'src', 'index.ts')],
    outfile: join(packagesDir, name, 'dist', 'index.js'),
    bundle: true,
    packages: 'external',
    platform: 'neutral',
    format: 'esm',
    target: 'es2022',
    sourcemap: true,
    logLevel: 'warning',
  })));

  // Declarations: one tsc program over every package's src (the @cce/* imports resolve to the sources
  // through the workspace links and are written as the bare names), then each package's part is moved
  // into its dist/.
  const base = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8')).compilerOptions;
  const out = join(scratch, 'out');
  const config = join(scratch, 'tsconfig.json');
  writeFileSync(config, JSON.stringify({
    compilerOptions: {
      ...base,
      noEmit: false,
      declaration: true,
      emitDeclarationOnly: true,
      rootDir: packagesDir,
      outDir: out,
      typeRoots: [join(root, 'node_modules', '@types')],
    },
    include: names.map((n) => join(packagesDir, n, 'src', '**', '*.ts')),
  }));
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', config, '--pretty', 'false'], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) {
    process.stderr.write(r.stdout + r.stderr);
    throw new Error(`build-packages: tsc failed (exit ${r.status}) writing the declarations`);
  }
  for (const name of names) {
    const from = join(out, name, 'src');
    const dist = join(packagesDir, name, 'dist');
    if (!existsSync(join(from, 'index.d.ts'))) throw new Error(`build-packages: tsc wrote no declarations for packages/${name}`);
    // A relative import that leaves the package would not exist once it is packed.
    for (const file of walk(from)) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:from\s+|import\(\s*)['"](\.{1,2}\/[^'"]*)['"]/g)) {
        const target = resolve(dirname(file), m[1]);
        if (!(target + sep).startsWith(from + sep)) {
          throw new Error(`build-packages: ${relative(out, file)} imports '${m[1]}', outside packages/${name}`);
        }
      }
    }
    cpSync(from, dist, { recursive: true });
  }
  console.log(`built ${names.map((n) => `packages/${n}/dist`).join(', ')} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
} catch (e) {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
