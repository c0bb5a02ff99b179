// The launcher of commands that take a user's ops with --import FILE (`pnpm gradcheck`, `pnpm kernels`):
// the user's files must share the command's @cce/core (one op registry, one Tensor class), so with
// --import the command's main module and those files are bundled into one module with esbuild, which then
// runs; without, the main module runs as it is.
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The --import flag as both commands declare it (parsed again there, for --help and checking). */
export const importFlag = {
  type: 'string', multiple: true, placeholder: 'FILE', description: 'a module (TypeScript or JavaScript) that registers ops with registerOp from @cce/core',
} as const;

/** `main`: the command's module, relative to the repository root; `runPlain` imports it when no --import is given. */
export async function runWithImports(command: string, main: string, runPlain: () => Promise<unknown>): Promise<void> {
  const argv = process.argv.slice(2);
  const imports: string[] = [];
  argv.forEach((a, i) => {
    if (a === '--import' && argv[i + 1] !== undefined) imports.push(argv[i + 1]!);
    else if (a.startsWith('--import=')) imports.push(a.slice('--import='.length));
  });
  if (!imports.length || argv.includes('--help') || argv.includes('-h')) {
    await runPlain();
    return;
  }
  for (const f of imports) {
    if (!existsSync(resolve(f))) {
      process.stderr.write(`${command}: --import ${f}: no such file\n`);
      process.exit(2);
    }
  }
  let root = import.meta.dirname;
  while (!existsSync(join(root, main)) && dirname(root) !== root) root = dirname(root);
  const esbuild = 'esbuild'; // a variable, so that bundling this launcher leaves esbuild to be loaded at run time
  const { build } = (await import(esbuild)) as typeof import('esbuild');
  // One file per process: concurrent runs with other --import files must not import each other's bundle.
  const outfile = join(root, 'dist', 'run', `${main.replace(/[/\\.]/g, '_')}-with-imports-${process.pid}.mjs`);
  mkdirSync(dirname(outfile), { recursive: true });
  try {
    await build({
      stdin: { contents: [...imports.map((f) => resolve(f)), join(root, main)].map((f) => `import ${JSON.stringify(f)};`).join('\n'), resolveDir: root, loader: 'ts' },
      outfile, bundle: true, platform: 'node', format: 'esm', target: 'node20', external: ['webgpu', 'gpu.js', 'gl'], logLevel: 'error',
      banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    });
  } catch (e) {
    process.stderr.write(`${command}: --import: could not bundle ${imports.join(', ')}: ${(e as Error).message.split('\n')[0]}\n`);
    process.exit(2);
  }
  // The command may end with process.exit, so the bundle is removed on exit rather than after the import.
  process.on('exit', () => rmSync(outfile, { force: true }));
  await import(pathToFileURL(outfile).href);
}
