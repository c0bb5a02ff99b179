// The packages bundle for a browser (esbuild, platform 'browser'): none of them imports a node:
// builtin where a bundler can see it (Node-only code reaches its modules at call time), so the
// playground and any web page can import them.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { resolve } from 'node:path';

// Loaded at run time: the test runner's bundle leaves only named packages external.
const esbuildName = 'esbuild';
const { build } = (await import(esbuildName)) as typeof import('esbuild');

const s = suite('browser bundles');
const root = process.cwd();

for (const pkg of ['@cce/core', '@cce/cce', '@cce/nn', '@cce/backend-webgpu', '@cce/backend-gpujs']) {
  s(`${pkg} bundles for platform 'browser' with no node: import`, async () => {
    const result = await build({
      stdin: { contents: `export * from '${pkg}';`, resolveDir: resolve(root, 'examples') },
      bundle: true,
      platform: 'browser',
      format: 'esm',
      splitting: true,
      outdir: resolve(root, '.test-build/browser-bundle'),
      write: false,
      metafile: true,
      logLevel: 'silent',
    }).catch((e: { errors?: { text: string; location?: { file: string } | null }[] }) => {
      throw new Error(`${pkg} does not bundle for a browser: ${(e.errors ?? []).map((x) => `${x.location?.file}: ${x.text}`).join('; ')}`);
    });
    const inputs = Object.keys(result.metafile.inputs);
    assert.ok(inputs.some((f) => f.startsWith('packages/')), `${pkg}'s sources are in the bundle`);
    for (const out of result.outputFiles) {
      assert.not.match(out.text, /\bfrom\s*["']node:|\bimport\s*\(\s*["']node:|\brequire\(\s*["']node:/, `${out.path} names a node: module`);
    }
  });
}

s.run();
