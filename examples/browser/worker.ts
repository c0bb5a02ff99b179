// The playground's training worker: the backend, the model and every step run here, so the page stays
// responsive. Operations on the model run one at a time in arrival order; training yields to the event
// loop between steps, so pause, sample and save are answered at the next step's end.
import type * as C from '@cce/core';
import { gptConfig } from '@cce/nn';
import '@cce/backend-webgpu';
import '@cce/backend-gpujs';
import { backendOptions, chooseKernels, startBackend, watchKernels } from './backends.js';
import { loadCheckpointFiles } from './checkpoint-files.js';
import { measureLossMemory } from './memory.js';
import type { BackendInfo, CheckpointFile, FromWorker, KernelStats, SetupRequest, ToWorker } from './protocol.js';
import { LOSS_OPTIONS, Session, corpusOf, sessionData, tokenizerFor } from './session.js';

const port = self as unknown as { postMessage(m: FromWorker, transfer?: Transferable[]): void; onmessage: ((ev: MessageEvent<ToWorker>) => void) | null };
const post = (m: FromWorker, transfer: Transferable[] = []) => port.postMessage(m, transfer);

let current: { backend: C.Backend; info: BackendInfo; kernels: KernelStats } | null = null;
let session: Session | null = null;
let running = false;
let looping = false;
let tail: Promise<unknown> = Promise.resolve();

/** Runs `fn` after every operation queued before it; a failure is posted as an error and ends training. */
function serial<T>(where: string, fn: () => Promise<T>): Promise<T | undefined> {
  const next = tail.then(fn).catch((e: unknown) => {
    running = false;
    post({ type: 'error', where, message: e instanceof Error ? e.message : String(e) });
    return undefined;
  });
  tail = next;
  return next;
}

let brown: Promise<string[]> | null = null;
const brownSlice = () => (brown ??= fetch(new URL('./brown-slice.json', import.meta.url)).then((r) => {
  if (!r.ok) throw new Error(`the Brown corpus slice did not load (HTTP ${r.status})`);
  return r.json() as Promise<string[]>;
}));

/** The backend for a request (the current one when it was started for the same name), its kernels chosen. */
async function backendFor(request: SetupRequest): Promise<NonNullable<typeof current>> {
  if (current?.info.requested !== request.backend) {
    current?.backend.destroy();
    current = null;
    post({ type: 'busy', what: `starting ${request.backend}` });
    const { backend, info } = await startBackend(request.backend);
    current = { backend, info, kernels: watchKernels(backend) };
  }
  chooseKernels(current.backend, request.kernels, current.info);
  post({ type: 'backend', info: current.info });
  return current;
}

function endSession(): void {
  session?.dispose();
  session = null;
}

async function announce(s: Session): Promise<void> {
  post({ type: 'busy', what: 'measuring the loss memory' });
  const { N, D, V } = { N: s.tokensPerStep, D: s.info.dim, V: s.info.vocab };
  const memory = await measureLossMemory(s.backend, N, D, V, LOSS_OPTIONS).catch((e: Error) => e);
  const kernels = { ...current!.kernels };
  post(memory instanceof Error ? { type: 'ready', info: s.info, memory: null, memoryError: memory.message, kernels } : { type: 'ready', info: s.info, memory, kernels });
}

async function setup(request: SetupRequest): Promise<void> {
  endSession();
  const { backend } = await backendFor(request);
  post({ type: 'busy', what: 'preparing the data and the model' });
  const corpus = await corpusOf(request.text, brownSlice);
  const tokenizer = await tokenizerFor(request.tokenizer, corpus);
  session = Session.create(backend, request, sessionData(corpus, gptConfig(request.config, 1).contextLength, tokenizer));
  await announce(session);
}

async function load(files: CheckpointFile[], request: SetupRequest): Promise<void> {
  const { backend } = await backendFor(request);
  post({ type: 'busy', what: 'loading the checkpoint' });
  const { model, tokenizer, step } = await loadCheckpointFiles(files, backend);
  let data;
  try {
    data = sessionData(await corpusOf(request.text, brownSlice), model.config.contextLength, tokenizer);
  } catch (e) {
    model.dispose();
    throw new Error(`the checkpoint's tokenizer cannot take the chosen text: ${(e as Error).message}`);
  }
  endSession();
  session = Session.resume(backend, model, request, data, step);
  await announce(session);
}

async function trainLoop(): Promise<void> {
  if (looping) return;
  looping = true;
  post({ type: 'running', running: true, done: false });
  try {
    await tail; // a setup sent just before 'run' comes first
    while (running && session && session.step < session.steps) {
      await serial('training', async () => {
        const s = session;
        if (!s || !running) return;
        const record = await s.trainStep();
        if (record.step % s.request.evalEvery === 0 || record.step === s.steps) record.valLoss = await s.evaluate();
        post({ type: 'step', record, kernels: { ...current!.kernels } });
      });
      await new Promise((r) => setTimeout(r, 0));
    }
  } finally {
    looping = false;
    running = false;
    post({ type: 'running', running: false, done: !!session && session.step >= session.steps });
  }
}

port.onmessage = ({ data: m }) => {
  switch (m.type) {
    case 'modes':
      void serial('listing the backends', async () => post({ type: 'modes', options: await backendOptions() }));
      break;
    case 'setup':
      running = false;
      void serial('setting up', () => setup(m.request)).finally(() => post({ type: 'busy', what: null }));
      break;
    case 'load':
      running = false;
      void serial('loading the checkpoint', () => load(m.files, m.request)).finally(() => post({ type: 'busy', what: null }));
      break;
    case 'run':
      running = true;
      void trainLoop();
      break;
    case 'pause':
      running = false;
      break;
    case 'sample':
      void serial('sampling', async () => {
        if (!session) throw new Error('there is no model yet: start training or load a checkpoint');
        const text = await session.sample(m.request, (t) => post({ type: 'sample', text: t, final: false }));
        post({ type: 'sample', text, final: true });
      });
      break;
    case 'save':
      void serial('saving the checkpoint', async () => {
        if (!session) throw new Error('there is no model to save yet');
        const files = await session.checkpoint();
        post({ type: 'checkpoint', files }, files.map((f) => f.bytes.buffer as ArrayBuffer));
      });
      break;
  }
};
