// CCE in core's op registry, so that `pnpm gradcheck` and `pnpm kernels` cover it: the plain loss with
// ignored targets, and every option at once, at odd sizes (13 tokens, width 9, 37 entries: no multiple
// of a tile), with a 2 KiB scratch so the backward walks the vocabulary in several chunks.
import { registerOp } from '@cce/core';
import { linearCrossEntropy } from './linear-cross-entropy.js';

const scratchBytes = 2048;

registerOp({
  name: 'linearCrossEntropy',
  inputs: [{ shape: [13, 9] }, { shape: [37, 9] }, { shape: [13], dtype: 'i32', low: 0, high: 37, ignoreFraction: 0.2 }],
  fn: (e, c, t) => linearCrossEntropy(e, c, t, { scratchBytes }),
});
registerOp({
  name: 'linearCrossEntropy shift, bias, softcap, smoothing, zLoss, no reduction',
  inputs: [{ shape: [2, 7, 9] }, { shape: [37, 9] }, { shape: [37] }, { shape: [2, 7], dtype: 'i32', low: 0, high: 37, ignoreFraction: 0.2 }],
  fn: (e, c, b, t) => linearCrossEntropy(e, c, t, { bias: b, shift: 1, softcap: 3, labelSmoothing: 0.1, zLoss: 0.01, reduction: 'none', scratchBytes }),
});
