// A tiny model with the fused RMSNorm in it: Embedding -> RMSNorm -> Linear -> cross-entropy, learning
// a fixed map from each token to a target token, trained with AdamW; prints the loss as it falls.
// Usage: node scripts/run-ts.mjs examples/fused-op/train-tiny.ts [--backend NAME] [--steps N]   (--help)
// The test calls trainTiny() directly; the command line runs only when this file is the entry point.
import * as C from '@cce/core';
import { AdamW, Embedding, Linear, Module } from '@cce/nn';
import { pathToFileURL } from 'node:url';
import { RMSNorm, type RmsNormVariant } from './rmsnorm.js';
import { loadBackends } from '../backends.js';

export interface TrainTinyOptions {
  backend: C.Backend;
  steps?: number;
  lr?: number;
  variant?: RmsNormVariant;
  /** Called with each logged step's loss. */
  log?: (line: string) => void;
  logEvery?: number;
}

const VOCAB = 16;
const DIM = 32;

class TinyModel extends Module {
  readonly embed: Embedding;
  readonly norm: RMSNorm;
  readonly head: Linear;

  constructor(backend: C.Backend, variant: RmsNormVariant) {
    super();
    this.embed = new Embedding(VOCAB, DIM, { seed: 1, std: 1, backend });
    this.norm = new RMSNorm(DIM, { backend, variant });
    this.head = new Linear(DIM, VOCAB, { seed: 2, backend });
  }

  forward(ids: C.Tensor): C.Tensor {
    return this.head.forward(this.norm.forward(this.embed.forward(ids)));
  }
}

/** Trains the tiny model; returns the loss at every step. */
export async function trainTiny(opts: TrainTinyOptions): Promise<number[]> {
  const { backend, steps = 40, lr = 0.01, variant = 'auto', log, logEvery = 5 } = opts;
  const model = new TinyModel(backend, variant);
  const opt = new AdamW(model.parameters(), { lr, weightDecay: 0 });
  // Every token, twice per batch; token i's target is (5 i + 3) mod VOCAB (a permutation to learn).
  const ids = Array.from({ length: 2 * VOCAB }, (_, i) => i % VOCAB);
  const x = C.keep(C.tensor(ids, [2, VOCAB], { dtype: 'i32', backend }));
  const y = C.keep(C.tensor(ids.map((i) => (5 * i + 3) % VOCAB), [2, VOCAB], { dtype: 'i32', backend }));
  const losses: number[] = [];
  try {
    for (let step = 1; step <= steps; step++) {
      const loss = await C.scope(async () => {
        const l = C.crossEntropy(C.reshape(model.forward(x), [2 * VOCAB, VOCAB]), C.reshape(y, [2 * VOCAB]));
        C.backward(l);
        opt.step();
        model.zeroGrad();
        return l.item();
      });
      losses.push(loss);
      if (log && (step === 1 || step % logEvery === 0 || step === steps)) log(`step ${String(step).padStart(3)}  loss ${loss.toFixed(4)}`);
    }
  } finally {
    x.dispose();
    y.dispose();
    opt.dispose();
    model.dispose();
  }
  return losses;
}

async function main(): Promise<void> {
  const args = await C.parseCli({
    command: 'node scripts/run-ts.mjs examples/fused-op/train-tiny.ts',
    summary: `Trains Embedding(${VOCAB}, ${DIM}) -> RMSNorm (the example fused op) -> Linear(${DIM}, ${VOCAB}) with AdamW to map ` +
      'each token to a fixed target token, printing the cross-entropy loss as it falls.',
    flags: {
      backend: C.commonFlags.backend,
      steps: { type: 'integer', min: 1, default: 40, description: 'training steps' },
      lr: { type: 'number', min: 0, minExclusive: true, default: 0.01, description: 'AdamW learning rate' },
      variant: { type: 'enum', choices: ['auto', 'map', 'workgroup'], default: 'auto', description: "RMSNorm's rstd kernel: the map kernel, the workgroup reduction (not on gpu.js), or auto" },
      verbose: C.commonFlags.verbose,
    },
  });
  await loadBackends();
  const backend = await C.cliBackend(args.backend, { verbose: args.verbose });
  const started = performance.now();
  const losses = await trainTiny({ backend, steps: args.steps, lr: args.lr, variant: args.variant as RmsNormVariant, log: console.log });
  const seconds = (performance.now() - started) / 1000;
  console.log(`loss ${losses[0]!.toFixed(4)} -> ${losses[losses.length - 1]!.toFixed(4)} in ${args.steps} steps, ${seconds.toFixed(1)} s on ${backend.name}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
