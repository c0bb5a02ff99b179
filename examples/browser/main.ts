// The playground page: the controls, the figures and the loss curve, driving the training worker
// (worker.ts) by messages. `window.playground` holds what the page shows, for tests and the console.
import { type Point, drawLossChart } from './chart.js';
import type { BackendInfo, BackendOption, CheckpointFile, FromWorker, KernelStats, MemoryFigures, PageState, SessionInfo, SetupRequest, StepRecord, ToWorker } from './protocol.js';

const state: PageState = {
  options: [], backend: null, session: null, records: [], kernels: null, memory: null, sample: '', samples: 0, errors: [], running: false, done: false,
  busy: null, downloads: [],
};
(globalThis as { playground?: PageState }).playground = state;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const text = (id: string, value: string) => ($(id).textContent = value);
const MiB = 2 ** 20;
const mib = (bytes: number) => `${(bytes / MiB).toFixed(bytes < MiB ? 3 : 1)} MiB`;

const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
const send = (m: ToWorker, transfer: Transferable[] = []) => worker.postMessage(m, transfer);

let sessionKey: string | null = null;
let sampling = false;

function request(): SetupRequest {
  const pasted = ($('setup') as HTMLFormElement).elements.namedItem('text') as RadioNodeList;
  const num = (id: string, fallback: number) => {
    const v = Number(($(id) as HTMLInputElement).value);
    return Number.isFinite(v) && v >= 0 ? v : fallback;
  };
  return {
    backend: ($('backend') as HTMLSelectElement).value,
    config: ($('config') as HTMLSelectElement).value as SetupRequest['config'],
    kernels: ($('kernels') as HTMLSelectElement).value as SetupRequest['kernels'],
    batch: Math.round(num('batch', 0)),
    tokenizer: ($('tokenizer') as HTMLSelectElement).value as SetupRequest['tokenizer'],
    text: pasted.value === 'pasted' ? { kind: 'pasted', text: ($('pasted') as HTMLTextAreaElement).value } : { kind: 'brown' },
    steps: Math.max(1, Math.round(num('steps', 200))),
    lr: num('lr', 2e-3),
    evalEvery: Math.max(1, Math.round(num('eval-every', 10))),
    seed: 1337,
  };
}

function showError(where: string, message: string): void {
  state.errors.push(`${where}: ${message}`);
  const p = document.createElement('p');
  p.textContent = `${where[0]!.toUpperCase()}${where.slice(1)}: ${message}`;
  const box = $('errors');
  if (!box.firstChild) {
    const dismiss = document.createElement('button');
    dismiss.type = 'button';
    dismiss.textContent = 'Dismiss';
    dismiss.onclick = () => {
      box.replaceChildren();
      state.errors = [];
    };
    box.append(dismiss);
  }
  box.append(p);
}

function setButtons(): void {
  ($('start') as HTMLButtonElement).disabled = state.running || !!state.busy;
  ($('pause') as HTMLButtonElement).disabled = !state.running;
  ($('start') as HTMLButtonElement).textContent = state.session && sessionKey === JSON.stringify(request()) && state.records.length && !state.done ? 'Continue' : 'Start';
}

function redraw(): void {
  const train: Point[] = state.records.map((r) => ({ step: r.step, loss: r.loss }));
  const val: Point[] = state.records.filter((r) => r.valLoss !== undefined).map((r) => ({ step: r.step, loss: r.valLoss! }));
  drawLossChart($('chart'), train, val, state.session?.steps ?? 1);
}

function showBackendOptions(options: BackendOption[]): void {
  state.options = options;
  const select = $('backend') as HTMLSelectElement;
  select.replaceChildren(...options.map((o) => {
    const opt = document.createElement('option');
    opt.value = o.name;
    opt.textContent = o.available ? o.label : `${o.label} (unavailable)`;
    opt.disabled = !o.available;
    return opt;
  }));
  const first = options.find((o) => o.available);
  const webgpu = options.find((o) => o.name === 'webgpu');
  select.value = webgpu?.available ? 'webgpu' : first?.name ?? 'cpu';
  if (webgpu && !webgpu.available) showError('WebGPU', `${webgpu.detail}; using ${first?.label ?? 'the CPU reference'} instead`);
  showBackendDetail();
}

function showBackendDetail(): void {
  const o = state.options.find((x) => x.name === ($('backend') as HTMLSelectElement).value);
  text('backend-detail', o ? o.detail : '');
}

function showBackend(info: BackendInfo): void {
  const fresh = state.backend?.requested !== info.requested || state.backend?.name !== info.name;
  state.backend = info;
  text('backend-line', info.line);
  if (fresh) for (const f of info.fallbacks) showError('backend', `${f}; the fallback taken: ${info.name}`);
  const rows: [string, string][] = [['backend', info.name], ['description', info.description], ['kernels', info.kernelsWhy]];
  if (info.gpujsMode) rows.push(['gpu.js mode', info.gpujsMode]);
  if (info.adapter) {
    rows.push(['adapter', info.adapter.name], ['architecture', info.adapter.architecture || '(not given)'], ['fallback adapter', String(info.adapter.isFallbackAdapter)],
      ['features', info.adapter.features.join(', ') || 'none'], ['shader-f16', info.adapter.features.includes('shader-f16') ? 'yes' : 'no']);
  }
  for (const [k, v] of Object.entries(info.limits)) rows.push([k, v >= MiB ? `${v} (${mib(v)})` : String(v)]);
  $('limits').replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    dd.dataset.key = k;
    return [dt, dd];
  }));
}

function showKernels(k: KernelStats): void {
  state.kernels = k;
  const limits = state.backend?.limits ?? {};
  const inv = limits.maxComputeInvocationsPerWorkgroup ?? limits.maxInvocationsPerWorkgroup;
  const wg = limits.maxComputeWorkgroupStorageSize ?? limits.maxWorkgroupStorageSize;
  text('kernel-stats', `${k.compiled} kernels compiled, ${k.tuned} of them tuned (workgroup memory); the largest workgroup has ${k.maxInvocations} invocations ` +
    `(limit ${inv}), the most workgroup memory is ${k.maxWorkgroupBytes} bytes (limit ${wg}).`);
}

function showMemory(m: MemoryFigures | null, error?: string): void {
  state.memory = m;
  if (!m) {
    text('memory', `Not measured: ${error}`);
    return;
  }
  const naive = m.naiveBytes === null ? `naive cross-entropy not run: ${m.naiveNote}` : `naive cross-entropy ${mib(m.naiveBytes)}`;
  const ratio = m.naiveBytes ? ` (${(m.naiveBytes / Math.max(m.cceBytes, 1)).toFixed(1)}x)` : '';
  text('memory', `One batch: N = ${m.N} tokens, D = ${m.D}, V = ${m.V} entries; the logits alone would be ${mib(m.logitBytes)}. ` +
    `Peak extra memory of forward and backward: CCE ${mib(m.cceBytes)}, ${naive}${ratio}.`);
}

function showSession(info: SessionInfo): void {
  state.session = info;
  text('model-info', `${info.config}: ${info.layers} layers, ${info.heads} heads, d ${info.dim}, context ${info.context}, batch ${info.batch}, ` +
    `vocabulary ${info.vocab} (padded), ${(info.parameters / 1e6).toFixed(2)}M parameters; ${info.corpus}: ${info.trainTokens} training and ${info.valTokens} validation ${info.tokenizer} tokens.`);
  text('step', `${info.step} / ${info.steps}`);
}

function showRecord(r: StepRecord): void {
  state.records.push(r);
  text('step', `${r.step} / ${state.session?.steps ?? '?'}`);
  text('loss', r.loss.toFixed(4));
  text('tps', r.tokensPerSecond.toLocaleString('en-US'));
  if (r.valLoss !== undefined) {
    text('val-loss', r.valLoss.toFixed(4));
    if (($('auto-sample') as HTMLInputElement).checked) generate();
  }
  redraw();
}

function offerDownloads(files: CheckpointFile[]): void {
  for (const url of state.downloads) URL.revokeObjectURL(url);
  state.downloads = [];
  $('downloads').replaceChildren(...files.map((f) => {
    const url = URL.createObjectURL(new Blob([f.bytes as BlobPart]));
    state.downloads.push(url);
    const a = document.createElement('a');
    a.href = url;
    a.download = f.name;
    a.textContent = `${f.name} (${f.bytes.length.toLocaleString('en-US')} bytes)`;
    const li = document.createElement('li');
    li.append(a);
    return li;
  }));
  ($('downloads').querySelector('a') as HTMLAnchorElement | null)?.focus();
}

function generate(): void {
  if (sampling || !state.session) return;
  sampling = true;
  send({ type: 'sample', request: { prompt: ($('prompt') as HTMLInputElement).value, tokens: Math.max(1, Number(($('tokens') as HTMLInputElement).value) || 120), temperature: Math.max(0, Number(($('temperature') as HTMLInputElement).value) || 0) } });
}

function newSession(): void {
  const req = request();
  sessionKey = JSON.stringify(req);
  state.records = [];
  state.done = false;
  state.samples = 0;
  state.memory = null;
  for (const id of ['loss', 'val-loss', 'tps']) text(id, '–');
  redraw();
  send({ type: 'setup', request: req });
}

worker.onmessage = ({ data: m }: MessageEvent<FromWorker>) => {
  switch (m.type) {
    case 'modes': showBackendOptions(m.options); break;
    case 'backend': showBackend(m.info); break;
    case 'ready': showSession(m.info); showMemory(m.memory, m.memoryError); showKernels(m.kernels); break;
    case 'step': showRecord(m.record); showKernels(m.kernels); break;
    case 'running': state.running = m.running; state.done = m.done; break;
    case 'sample':
      state.sample = m.text;
      $('sample').textContent = (($('prompt') as HTMLInputElement).value) + m.text;
      if (m.final) {
        sampling = false;
        state.samples++;
      }
      break;
    case 'checkpoint': offerDownloads(m.files); break;
    case 'busy': state.busy = m.what; text('busy', m.what ? `${m.what}…` : ''); break;
    case 'error':
      if (m.where === 'sampling') sampling = false;
      showError(m.where, m.message);
      break;
  }
  setButtons();
};
worker.onerror = (e) => showError('the worker', e.message || 'it failed to start (see the console)');

$('setup').addEventListener('submit', (e) => {
  e.preventDefault();
  if (!state.session || sessionKey !== JSON.stringify(request()) || state.done) newSession();
  state.running = true;
  setButtons();
  send({ type: 'run' });
});
$('pause').addEventListener('click', () => send({ type: 'pause' }));
$('reset').addEventListener('click', () => newSession());
$('backend').addEventListener('change', showBackendDetail);
$('setup').addEventListener('change', setButtons);
$('pasted').addEventListener('input', () => {
  (document.querySelector('input[name=text][value=pasted]') as HTMLInputElement).checked = true;
});
$('sample-form').addEventListener('submit', (e) => {
  e.preventDefault();
  generate();
});
$('save').addEventListener('click', () => send({ type: 'save' }));
$('load').addEventListener('change', async () => {
  const input = $('load') as HTMLInputElement;
  const files = await Promise.all(Array.from(input.files ?? []).map(async (f) => ({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) })));
  input.value = '';
  if (!files.length) return;
  const req = request();
  sessionKey = JSON.stringify(req);
  state.records = [];
  state.done = false;
  redraw();
  send({ type: 'load', files, request: req }, files.map((f) => f.bytes.buffer));
});
addEventListener('resize', redraw);
redraw();
send({ type: 'modes' });
