// Registers the RMSNorm example for `pnpm gradcheck -- --import examples/fused-op/register.ts`: its
// inputs at odd shapes (one row, D = 1, a row longer than the tuned variant's workgroup), each variant.
import * as C from '@cce/core';
import { rmsNorm } from './rmsnorm.js';

for (const variant of ['map', 'workgroup'] as const) {
  C.registerOp({
    name: `rmsNorm ${variant}`,
    inputs: [{ shape: [3, 5, 7] }, { shape: [7] }],
    // The workgroup variant needs workgroup memory; on a map-only backend the op refuses it by name.
    fn: (x, w) => rmsNorm(x, w, { variant: C.getBackend().capabilities.mapOnly ? 'map' : variant }),
  });
}
C.registerOp({ name: 'rmsNorm one row, D = 1', inputs: [{ shape: [1, 1] }, { shape: [1] }], fn: (x, w) => rmsNorm(x, w) });
C.registerOp({ name: 'rmsNorm long row', inputs: [{ shape: [2, 300] }, { shape: [300] }], fn: (x, w) => rmsNorm(x, w) });
