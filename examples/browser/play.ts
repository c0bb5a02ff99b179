// `pnpm play`: builds the browser playground (examples/browser) and serves it on 127.0.0.1 with the
// cross-origin isolation headers, printing the URL to open.
import * as C from '@cce/core';
import { join, resolve } from 'node:path';
import { buildPlayground } from './build.js';
import { serveStatic } from './serve.js';

const args = await C.parseCli({
  command: 'pnpm play',
  summary: 'Build the browser playground (train a small GPT on WebGPU, gpu.js or the CPU reference in a web page) and serve it on 127.0.0.1.',
  flags: {
    port: { type: 'integer', min: 0, max: 65535, default: 8080, description: 'the port to listen on (0: any free port)' },
    out: { type: 'string', placeholder: 'DIR', default: 'dist/playground', description: 'where the built page goes' },
    minify: { type: 'boolean', description: 'minify the bundles' },
    'build-only': { type: 'boolean', description: 'build the page and exit without serving it' },
  },
  notes: ['Open the printed URL in a browser with WebGPU (Chrome, Edge; in headless Chromium pass --enable-unsafe-webgpu). ' +
    'Without WebGPU the page offers gpu.js (WebGL2, WebAssembly, JavaScript) and the CPU reference.'],
});

const out = resolve(args.out);
const started = performance.now();
const built = await buildPlayground(out, { minify: args.minify }).catch((e: Error) => C.exitWithError(`build failed: ${e.message.split('\n')[0]}`, 1));
console.log(`built ${join(args.out)} (${built.files} files, ${(built.bytes / 2 ** 20).toFixed(1)} MiB of scripts) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
if (!args['build-only']) {
  const { url } = await serveStatic(out, '127.0.0.1', args.port).catch((e: Error) => C.exitWithError(`cannot listen on 127.0.0.1:${args.port}: ${e.message}`, 1));
  console.log(`playground: ${url}  (Ctrl-C stops it)`);
}
