// Builds the playground into a folder of static files: the page and its worker bundled by esbuild for
// the browser (shared code and the lazily loaded BPE ranks in chunks of their own), the HTML and CSS, and
// the Brown corpus slice the page trains on by default (brown-slice.json: documents as `pnpm train` reads
// them, ten from each hundred, so the slice keeps the corpus's every-tenth-document validation split).
import { brownCorpus } from '@cce/nn';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder of the page's sources: this file's when run from source, else examples/browser under the working directory. */
export function sourceDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return here.endsWith(join('examples', 'browser')) ? here : join(process.cwd(), 'examples', 'browser');
}

/** Brown documents i with i % 100 < 10: 50 documents across the corpus's categories, 5 of them validation. */
export function brownSlice(): string[] {
  return brownCorpus().documents.filter((_, i) => i % 100 < 10);
}

export async function buildPlayground(outdir: string, opts: { minify?: boolean } = {}): Promise<{ files: number; bytes: number }> {
  const src = sourceDir();
  // Loaded when called: esbuild cannot be bundled into the script that runs this.
  const esbuildName = 'esbuild';
  const { build } = (await import(esbuildName)) as typeof import('esbuild');
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const result = await build({
    entryPoints: [join(src, 'main.ts'), join(src, 'worker.ts')],
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: opts.minify ?? false,
    sourcemap: true,
    metafile: true,
    logLevel: 'warning',
  });
  for (const f of ['index.html', 'style.css']) copyFileSync(join(src, f), join(outdir, f));
  writeFileSync(join(outdir, 'brown-slice.json'), JSON.stringify(brownSlice()));
  const outputs = Object.values(result.metafile.outputs);
  return { files: outputs.length + 3, bytes: outputs.reduce((n, o) => n + o.bytes, 0) };
}
