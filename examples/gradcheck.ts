// `pnpm gradcheck` (the checks are examples/gradcheck/main.ts). A user's --import files must share the
// checker's @cce/core (one op registry, one Tensor class), so with --import this launcher bundles them and
// main.ts into one module with esbuild and runs that; without, it runs main.ts as it is.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const imports: string[] = [];
const argv = process.argv.slice(2);
argv.forEach((a, i) => {
  if (a === '--import' && argv[i + 1] !== undefined) imports.push(argv[i + 1]!);
  else if (a.startsWith('--import=')) imports.push(a.slice('--import='.length));
});

if (!imports.length || argv.includes('--help') || argv.includes('-h')) {
  await import('./gradcheck/main.js');
} else {
  for (const f of imports) {
    if (!existsSync(resolve(f))) {
      process.stderr.write(`pnpm gradcheck: --import ${f}: no such file\n`);
      process.exit(2);
    }
  }
  let root = import.meta.dirname;
  while (!existsSync(join(root, 'examples/gradcheck/main.ts')) && dirname(root) !== root) root = dirname(root);
  const esbuild = 'esbuild'; // a variable, so that bundling this launcher leaves esbuild to be loaded at run time
  const { build } = (await import(esbuild)) as typeof import('esbuild');
  const outfile = join(root, 'dist', 'run', 'gradcheck-with-imports.mjs');
  mkdirSync(dirname(outfile), { recursive: true });
  try {
    await build({
      stdin: { contents: [...imports.map((f) => resolve(f)), join(root, 'examples/gradcheck/main.ts')].map((f) => `import ${JSON.stringify(f)};`).join('\n'), resolveDir: root, loader: 'ts' },
      outfile, bundle: true, platform: 'node', format: 'esm', target: 'node20', external: ['webgpu', 'gpu.js', 'gl'], logLevel: 'error',
      banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    });
  } catch (e) {
    process.stderr.write(`pnpm gradcheck: --import: could not bundle ${imports.join(', ')}: ${(e as Error).message.split('\n')[0]}\n`);
    process.exit(2);
  }
  await import(pathToFileURL(outfile).href);
}
