// The loss's memory at a training batch's shape, measured on the session's backend: the peak bytes one
// forward and backward allocate beyond their inputs and the gradients, for CCE (with the GPT's loss
// settings) and for the naive cross-entropy over materialised logits, on seeded random data.
import * as C from '@cce/core';
import { linearCrossEntropy, naiveLinearCrossEntropy, randomCceData, toTensors } from '@cce/cce';
import type { MemoryFigures } from './protocol.js';

type Loss = (e: C.Tensor, c: C.Tensor, t: C.Tensor) => C.Tensor;

async function peakExtra(backend: C.Backend, loss: Loss, N: number, D: number, V: number): Promise<number> {
  return C.scope(async () => {
    const { e, c, targets } = toTensors(randomCceData(N, D, V, 7), N, D, V, backend);
    e.requiresGrad = c.requiresGrad = true;
    await backend.flush();
    const before = backend.memory().bytesInUse;
    backend.resetPeak();
    await C.scope(async () => {
      const l = loss(e, c, targets);
      C.backward(l);
      await l.item();
    });
    return backend.memory().peakBytes - before - e.grad!.buffer.bytes - c.grad!.buffer.bytes;
  });
}

/** CCE and naive at N tokens, hidden size D and V classifier rows (the naive path is skipped, and
 *  said why, where its logits would not fit one storage binding). */
export async function measureLossMemory(backend: C.Backend, N: number, D: number, V: number, lossOptions: { scratchBytes: number; sortVocab: boolean }): Promise<MemoryFigures> {
  const logitBytes = N * V * 4;
  const cceBytes = await peakExtra(backend, (e, c, t) => linearCrossEntropy(e, c, t, lossOptions), N, D, V);
  const binding = backend.capabilities.limits.maxStorageBufferBindingSize;
  if (logitBytes > binding) {
    return { N, D, V, logitBytes, cceBytes, naiveBytes: null, naiveNote: `its ${logitBytes} bytes of logits exceed the largest storage binding (${binding} bytes)` };
  }
  const naiveBytes = await peakExtra(backend, naiveLinearCrossEntropy, N, D, V);
  return { N, D, V, logitBytes, cceBytes, naiveBytes };
}
