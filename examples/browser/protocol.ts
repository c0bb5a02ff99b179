// The messages between the playground's page (main.ts) and its training worker (worker.ts).
import type { GPTPresetName } from '@cce/nn';

/** The text to train on: the bundled slice of the Brown corpus, or text the user pasted. */
export type TextChoice = { kind: 'brown' } | { kind: 'pasted'; text: string };

export interface SetupRequest {
  /** A backend name core's useBackend takes ('webgpu', 'gpujs:webgl2', 'cpu', ...). */
  backend: string;
  config: GPTPresetName;
  /** 'tuned': each op's best variant for the backend; 'map': the portable map kernels first; 'auto':
   *  map on a software adapter (SwiftShader runs workgroup barriers slowly), tuned elsewhere. */
  kernels: 'auto' | 'tuned' | 'map';
  /** Windows per step; 0 takes the preset's. */
  batch: number;
  text: TextChoice;
  /** 'char': the text's own characters; 'bpe': GPT-2's (50257 ids, so the logits CCE never forms are large). */
  tokenizer: 'char' | 'bpe';
  /** The schedule's length (warmup then cosine). */
  steps: number;
  lr: number;
  /** Validation every this many steps (and at the last). */
  evalEvery: number;
  seed: number;
}

export interface SampleRequest {
  prompt: string;
  tokens: number;
  temperature: number;
}

/** A file of a checkpoint directory, as `pnpm train` writes it (model.safetensors, config.json, ...). */
export interface CheckpointFile {
  name: string;
  bytes: Uint8Array;
}

export type ToWorker =
  | { type: 'modes' }
  | { type: 'setup'; request: SetupRequest }
  | { type: 'run' }
  | { type: 'pause' }
  | { type: 'sample'; request: SampleRequest }
  | { type: 'save' }
  | { type: 'load'; files: CheckpointFile[]; request: SetupRequest };

/** A backend option for the page's list: available or not, and why. */
export interface BackendOption {
  name: string;
  label: string;
  available: boolean;
  detail: string;
}

export interface BackendInfo {
  name: string;
  requested: string;
  /** The line core's useBackend logged (the backend and why). */
  line: string;
  /** Each backend tried before this one and why it did not start. */
  fallbacks: string[];
  description: string;
  /** Whether map kernels are tried first (the request's kernels choice, resolved), and why. */
  mapKernelsFirst: boolean;
  kernelsWhy: string;
  /** gpu.js's mode, for gpujs backends. */
  gpujsMode: string | null;
  /** The WebGPU adapter (webgpu backend), else null. */
  adapter: { name: string; architecture: string; vendor: string; isFallbackAdapter: boolean; features: string[] } | null;
  limits: Record<string, number>;
}

export interface KernelStats {
  compiled: number;
  /** Kernels that use workgroup memory (tuned variants). */
  tuned: number;
  maxInvocations: number;
  maxWorkgroupBytes: number;
}

export interface MemoryFigures {
  /** Tokens, hidden size and classifier rows of the loss (one training batch). */
  N: number;
  D: number;
  V: number;
  /** Bytes of the N x V logits in f32. */
  logitBytes: number;
  /** Peak bytes beyond inputs and gradients of one forward and backward, measured on this backend. */
  cceBytes: number;
  naiveBytes: number | null;
  /** Why the naive loss was not measured (too large for a binding, say). */
  naiveNote?: string;
}

export interface SessionInfo {
  config: string;
  layers: number;
  heads: number;
  dim: number;
  context: number;
  batch: number;
  vocab: number;
  parameters: number;
  corpus: string;
  tokenizer: string;
  trainTokens: number;
  valTokens: number;
  steps: number;
  /** The step training continues from (a loaded checkpoint's). */
  step: number;
}

export interface StepRecord {
  step: number;
  loss: number;
  tokensPerSecond: number;
  lr: number;
  valLoss?: number;
}

export type FromWorker =
  | { type: 'modes'; options: BackendOption[] }
  | { type: 'backend'; info: BackendInfo }
  | { type: 'ready'; info: SessionInfo; memory: MemoryFigures | null; memoryError?: string; kernels: KernelStats }
  | { type: 'step'; record: StepRecord; kernels: KernelStats }
  | { type: 'running'; running: boolean; done: boolean }
  | { type: 'sample'; text: string; final: boolean }
  | { type: 'checkpoint'; files: CheckpointFile[] }
  | { type: 'busy'; what: string | null }
  | { type: 'error'; where: string; message: string };

/** What the page shows, kept in `window.playground` for tests and the console. */
export interface PageState {
  options: BackendOption[];
  backend: BackendInfo | null;
  session: SessionInfo | null;
  records: StepRecord[];
  kernels: KernelStats | null;
  memory: MemoryFigures | null;
  sample: string;
  samples: number;
  errors: string[];
  running: boolean;
  done: boolean;
  busy: string | null;
  downloads: string[];
}
