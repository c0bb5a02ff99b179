// Debian's chromium driven by playwright-core for the browser tests: the flags of the architecture notes
// (WebGPU on Chromium's SwiftShader adapter, headless, no network services), a fresh profile each time,
// and `pnpm play` serving the playground on a free port.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_FLAGS = [
  '--enable-unsafe-webgpu', '--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--disable-quic',
];

/** Why the browser tests cannot run here, or null. */
export function chromiumMissing(): string | null {
  return existsSync(CHROMIUM) ? null : `${CHROMIUM} is missing (install Debian's chromium: apt-get install chromium; .ci/run does)`;
}

/** A headless chromium with a fresh profile, downloads accepted, at `viewport`; `webgpu: false` leaves
 *  WebGPU off (without --enable-unsafe-webgpu no adapter answers). */
export async function launchChromium(viewport: { width: number; height: number }, opts: { webgpu?: boolean } = {}): Promise<BrowserContext> {
  // Loaded at run time: the test runner's bundle leaves only named packages external.
  const name = 'playwright-core';
  const pw = (await import(name)) as typeof import('playwright-core') & { default?: typeof import('playwright-core') };
  const chromium = pw.chromium ?? pw.default!.chromium;
  const profile = mkdtempSync(join(tmpdir(), 'cce-chromium-'));
  const args = opts.webgpu === false ? CHROMIUM_FLAGS.filter((f) => f !== '--enable-unsafe-webgpu') : CHROMIUM_FLAGS;
  return chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args, acceptDownloads: true, viewport });
}

/** `pnpm play` on a free port, building into `out`: the server's process and the URL it printed. */
export function startPlayground(out: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['scripts/run-ts.mjs', 'examples/browser/play.ts', '--port', '0', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`pnpm play printed no URL within 60 s: ${output}`)), 60_000);
    const fail = (e: Error) => {
      clearTimeout(timer);
      child.kill();
      reject(e);
    };
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const url = /playground: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output)?.[1];
      if (url) {
        clearTimeout(timer);
        resolve({ child, url });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => fail(new Error(`pnpm play exited with ${code}: ${output}`)));
  });
}
