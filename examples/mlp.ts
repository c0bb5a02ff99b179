// Example: train a small MLP on a synthetic spiral task on the best backend available,
// printing the backend chosen and the loss as it falls.
// Usage: pnpm example:mlp [-- --backend <name>] [--steps N] [--verbose]   (--help lists every flag)
import * as C from '@cce/core';
import { AdamW, MLP } from '@cce/nn';
import { spirals } from './spirals.js';
import { loadBackends } from './backends.js';

const args = await C.parseCli({
  command: 'pnpm example:mlp',
  summary: 'Trains an MLP [2, 64, 64, 3] (GELU, AdamW) on 384 points of a synthetic 3-arm spiral task, printing the loss ' +
    'every 25 steps and the training accuracy at the end.',
  flags: {
    backend: C.commonFlags.backend,
    steps: { type: 'integer', min: 1, default: 300, description: 'training steps' },
    lr: { type: 'number', min: 0, minExclusive: true, default: 0.01, description: 'AdamW learning rate' },
    verbose: C.commonFlags.verbose,
  },
});
const steps = args.steps;

await loadBackends();
const backend = await C.cliBackend(args.backend, { verbose: args.verbose });
const data = spirals(384, 3, 7);
const model = new MLP([2, 64, 64, 3], 'gelu', { seed: 3 });
const opt = new AdamW(model.parameters(), { lr: args.lr, weightDecay: 0 });
console.log(`training an MLP [2, 64, 64, 3] on ${data.y.size} spiral points for ${steps} steps`);
const started = performance.now();
let first = NaN;
let last = NaN;
for (let step = 1; step <= steps; step++) {
  const loss = await C.scope(async () => {
    const l = C.crossEntropy(model.forward(data.x), data.y);
    C.backward(l);
    opt.step();
    model.zeroGrad();
    return step % 25 === 0 || step === 1 ? l.item() : NaN;
  });
  if (!Number.isNaN(loss)) {
    if (Number.isNaN(first)) first = loss;
    last = loss;
    console.log(`step ${String(step).padStart(4)}  loss ${loss.toFixed(4)}`);
  }
}
const accuracy = await C.scope(async () => {
  const logits = C.noGrad(() => model.forward(data.x));
  const predicted = C.compare(C.pick(logits, data.y), 'ge', C.max(logits, -1));
  return (await C.sum(predicted).item()) / data.y.size;
});
const seconds = (performance.now() - started) / 1000;
console.log(`loss ${first.toFixed(4)} -> ${last.toFixed(4)}, training accuracy ${(accuracy * 100).toFixed(1)}%, ${seconds.toFixed(1)} s on ${backend.name}`);
