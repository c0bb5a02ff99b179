// nn's fused op in core's op registry, so that `pnpm gradcheck` and `pnpm kernels` cover it: causal
// attention at odd sizes (7 positions, head size 5; one token, one head; for the tiles variant, which
// needs dh % 4 == 0, 37 positions: two tiles, the second of 5 rows), each variant where the backend runs
// it (map-only backends run the elements one in place of tiles and rows).
import * as C from '@cce/core';
import { causalAttention } from './layers/fused-attention.js';

const qkv = (shape: number[]) => [{ shape }, { shape }, { shape }];
for (const variant of ['tiles', 'rows', 'elements'] as const) {
  C.registerOp({
    name: `causalAttention ${variant}`,
    inputs: qkv(variant === 'tiles' ? [2, 1, 37, 8] : [2, 3, 7, 5]),
    fn: (q, k, v) => causalAttention(q, k, v, { variant: variant !== 'elements' && C.getBackend().capabilities.mapOnly ? 'elements' : variant }),
  });
}
C.registerOp({ name: 'causalAttention one token, one head', inputs: qkv([1, 1, 1, 4]), fn: (q, k, v) => causalAttention(q, k, v) });
