// CCE with non-finite inputs (-inf bias entries, NaN rows of e or c, a NaN bias) on every backend, every
// option: the same values as the naive path, non-finite ones included (NaN propagates, -inf masks).
import * as C from '@cce/core';
import { createGpujsBackend } from '@cce/backend-gpujs';
import { cceNonFiniteSuite } from '../support/cce-criterion.js';
import { requireBackend, webgpuAvailable } from '../webgpu/support.js';

cceNonFiniteSuite('cce: non-finite inputs on cpu f32', async () => new C.CpuBackend({ precision: 'f32' })).run();
if (await webgpuAvailable('cce non-finite')) cceNonFiniteSuite('cce: non-finite inputs on webgpu', requireBackend).run();
cceNonFiniteSuite('cce: non-finite inputs on gpujs:webasm', () => createGpujsBackend('webasm')).run();
