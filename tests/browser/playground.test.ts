// The browser playground end to end, in Debian's headless chromium (playwright-core): `pnpm play` serves
// it cross-origin isolated; the page finds Chromium's SwiftShader WebGPU adapter with its small limits,
// trains a char-level micro GPT a few steps on WebGPU (tuned kernels, checked against those limits) and
// on gpu.js (WebGL2 where the browser offers it), the loss falls, a sample appears, the page stays
// responsive, a bad checkpoint is refused in words, and the downloaded checkpoint loads back both in the
// page and in `pnpm sample`. A phone-sized screenshot goes to tests/.artifacts/playground.png.
// Without chromium the suite is skipped locally and FAILS when the CI variable is set.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import type { PageState } from '../../examples/browser/protocol.js';
import { chromiumMissing, launchChromium, startPlayground } from './chromium.js';

const ARTIFACTS = resolve('tests/.artifacts');
const SCREENSHOT = join(ARTIFACTS, 'playground.png');
const PHONE = { width: 412, height: 915 };
const STEP_TIMEOUT = 120_000;

const pageState = (page: Page) => page.evaluate(() => (globalThis as unknown as { playground: PageState }).playground);

async function waitFor(page: Page, what: string, test: (s: PageState) => boolean, timeout = STEP_TIMEOUT): Promise<PageState> {
  const started = Date.now();
  for (;;) {
    const s = await pageState(page);
    if (test(s)) return s;
    if (s.errors.length) throw new Error(`waiting for ${what}, the page showed: ${s.errors.join(' | ')}`);
    if (Date.now() - started > timeout) throw new Error(`${what}: not within ${timeout / 1000} s (step ${s.records.at(-1)?.step ?? 0}, busy: ${s.busy})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Sets the form up and trains `steps` steps (validation at the last, then a sample of `sampleTokens`
 *  if any), started from the keyboard. */
async function train(page: Page, backend: string, kernels: string, steps: number, batch: number, sampleTokens: number): Promise<PageState> {
  const sample = sampleTokens > 0;
  await page.selectOption('#backend', backend);
  await page.selectOption('#kernels', kernels);
  await page.selectOption('#config', 'micro');
  await page.check('input[name=text][value=brown]');
  await page.fill('#steps', String(steps));
  await page.fill('#batch', String(batch));
  await page.fill('#eval-every', String(steps));
  if (sample) await page.fill('#tokens', String(sampleTokens));
  await page.setChecked('#auto-sample', sample);
  await page.focus('#start');
  await page.keyboard.press('Enter');
  await waitFor(page, 'the first step', (s) => s.records.length > 0);
  // The page answers while the worker trains.
  const asked = Date.now();
  await page.evaluate(() => new Promise((r) => setTimeout(r, 0)));
  assert.ok(Date.now() - asked < 2000, `the page took ${Date.now() - asked} ms to answer during training`);
  return waitFor(page, `${steps} steps on ${backend}${sample ? ' and a sample' : ''}`, (s) => s.done && !s.running && (!sample || s.samples > 0) && !s.busy);
}

function checkLimits(s: PageState): void {
  const k = s.kernels!;
  const { maxComputeInvocationsPerWorkgroup: inv, maxComputeWorkgroupStorageSize: wg } = s.backend!.limits;
  assert.ok(k.compiled > 0 && k.maxInvocations <= inv! && k.maxWorkgroupBytes <= wg!, `kernels within the adapter's limits (${inv}, ${wg} B): ${JSON.stringify(k)}`);
}

function checkTraining(s: PageState, steps: number): void {
  assert.is(s.records.length, steps);
  const [first, last] = [s.records[0]!, s.records.at(-1)!];
  assert.ok(last.loss < first.loss, `the loss did not fall: ${s.records.map((r) => r.loss.toFixed(3)).join(' -> ')}`);
  assert.ok(last.valLoss !== undefined && Number.isFinite(last.valLoss), 'a validation loss at the last step');
  assert.ok(s.records.every((r) => r.tokensPerSecond > 0), 'tokens/s reported');
  assert.ok(s.sample.length > 0, 'a generated sample');
  const m = s.memory!;
  assert.is(m.N, s.session!.batch * s.session!.context);
  assert.is(m.logitBytes, m.N * m.V * 4);
  assert.ok(m.cceBytes > 0 && m.naiveBytes! > 0, `loss memory measured: ${JSON.stringify(m)}`);
}

async function downloadCheckpoint(page: Page, dir: string): Promise<string[]> {
  await page.click('#save');
  await page.waitForSelector('#downloads a');
  const names: string[] = [];
  for (const link of await page.$$('#downloads a')) {
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    const name = download.suggestedFilename();
    await download.saveAs(join(dir, name));
    names.push(name);
  }
  return names.sort();
}

const missing = chromiumMissing();
const s = suite('browser playground');
if (missing && !process.env.CI) console.log(`(browser playground skipped: ${missing})`);

(missing && !process.env.CI ? s.skip : s)('pnpm play: WebGPU on SwiftShader and gpu.js train a micro GPT; checkpoints round-trip', async () => {
  if (missing) assert.unreachable(missing);
  const work = mkdtempSync(join(tmpdir(), 'cce-playground-'));
  const { child, url } = await startPlayground(join(work, 'site'));
  const context = await launchChromium(PHONE);
  const times: string[] = [];
  let t = Date.now();
  const lap = (what: string) => {
    times.push(`${what} ${((Date.now() - t) / 1000).toFixed(0)} s`);
    t = Date.now();
  };
  try {
    const page = await context.newPage();
    await page.goto(url);
    assert.ok(await page.evaluate(() => crossOriginIsolated && typeof SharedArrayBuffer === 'function'), 'cross-origin isolated, SharedArrayBuffer present');
    const { options } = await waitFor(page, 'the backend list', (st) => st.options.length > 0, 30_000);
    const offered = (name: string) => options.find((o) => o.name === name)?.available;
    assert.ok(offered('webgpu'), `WebGPU offered: ${JSON.stringify(options)}`);

    // WebGPU as a user gets it: 'auto' kernels, map ones first on a software adapter.
    lap('start');
    const gpu = await train(page, 'webgpu', 'auto', 4, 2, 8);
    lap('webgpu');
    const b = gpu.backend!;
    assert.is(b.name, 'webgpu');
    assert.is(b.adapter?.architecture, 'swiftshader');
    assert.not.ok(b.adapter!.features.includes('shader-f16'), 'SwiftShader has no shader-f16');
    assert.is(b.limits.maxComputeInvocationsPerWorkgroup, 256);
    assert.is(b.limits.maxComputeWorkgroupStorageSize, 32768);
    assert.is(b.limits.maxStorageBufferBindingSize, 2 ** 30);
    assert.match(await page.textContent('#limits') ?? '', /swiftshader/);
    checkTraining(gpu, 4);
    checkLimits(gpu);

    // The trained page at a phone's size, for inspection: nothing wider than the viewport.
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow} px wider than a phone's viewport`);

    const ckpt = join(work, 'checkpoint');
    mkdirSync(ckpt);
    assert.equal(await downloadCheckpoint(page, ckpt), ['config.json', 'model.safetensors', 'training_state.json']);

    // A bad checkpoint is refused in words, and the page keeps working.
    const bad = join(work, 'bad');
    mkdirSync(bad);
    writeFileSync(join(bad, 'model.safetensors'), 'not a safetensors file');
    await page.setInputFiles('#load', [join(bad, 'model.safetensors'), join(ckpt, 'config.json'), join(ckpt, 'training_state.json')]);
    await page.waitForFunction(() => (globalThis as unknown as { playground: PageState }).playground.errors.length > 0);
    assert.match(await page.textContent('#errors') ?? '', /safetensors file model\.safetensors: header length/);
    await page.click('#errors button');

    // The tuned kernels (workgroup tiles) at the model's loss shape: setting up measures CCE's and the
    // naive loss's memory with them (CCE's block products, the tiled matmul, row reductions), each one
    // chosen for and within SwiftShader's limits.
    await page.selectOption('#kernels', 'tuned');
    await page.click('#reset');
    const tuned = await waitFor(page, 'a setup with the tuned kernels', (st) => st.backend?.mapKernelsFirst === false && !!st.memory && !st.busy);
    lap('webgpu tuned');
    assert.ok(tuned.kernels!.tuned >= 4, `tuned kernels ran: ${JSON.stringify(tuned.kernels)}`);
    checkLimits(tuned);

    // gpu.js: WebGL2 where this chromium offers it (headless without a GPU may not), else another device mode.
    const mode = ['webgl2', 'webgpu', 'cpu'].find((m) => offered(`gpujs:${m}`));
    assert.ok(mode, `a gpu.js mode offered: ${JSON.stringify(options)}`);
    const js = await train(page, `gpujs:${mode}`, 'auto', 2, 1, 4);
    lap(`gpujs:${mode}`);
    assert.is(js.backend!.name, `gpujs:${mode}`);
    assert.is(js.backend!.gpujsMode, mode);
    assert.match(await page.textContent('#limits') ?? '', new RegExp(`gpu\\.js mode${mode}`));
    checkTraining(js, 2);

    // The WebGPU checkpoint loads back into the page (on gpu.js) ...
    await page.setInputFiles('#load', readdirSync(ckpt).map((f) => join(ckpt, f)));
    await waitFor(page, 'the loaded checkpoint', (st) => st.session?.step === 4 && !st.busy);


    // ... and into `pnpm sample`.
    const out = spawnSync(process.execPath, ['scripts/run-ts.mjs', 'examples/sample.ts', '--ckpt', ckpt, '--prompt', 'The ', '--tokens', '20', '--backend', 'cpu'], { encoding: 'utf8', timeout: 120_000 });
    assert.is(out.status, 0, out.stderr);
    const sampled = out.stdout.replace(/\n$/, '');
    assert.ok(sampled.startsWith('The '), sampled);
    assert.is([...sampled].length, 4 + 20, `20 characters after the prompt: ${JSON.stringify(sampled)}`);
    lap('checkpoint and pnpm sample');

    // Without WebGPU the page says so and takes another backend.
    const plain = await launchChromium(PHONE, { webgpu: false });
    try {
      const p2 = await plain.newPage();
      await p2.goto(url);
      await p2.waitForFunction(() => (globalThis as unknown as { playground: PageState }).playground.options.length > 0, null, { timeout: 30_000 });
      const st = await pageState(p2);
      const errors = await p2.textContent('#errors');
      assert.not.ok(st.options.find((o) => o.name === 'webgpu')!.available, 'WebGPU is not offered');
      assert.match(errors ?? '', /WebGPU: no adapter answered .*; using gpu\.js \w+ instead/);
      assert.is.not(await p2.inputValue('#backend'), 'webgpu');
    } finally {
      await plain.close();
    }
    lap('no WebGPU');
    console.log(`(playground: ${times.join(', ')}; screenshot ${SCREENSHOT})`);
  } finally {
    await context.close();
    child.kill();
    rmSync(work, { recursive: true, force: true });
  }
});

s.run();
