// Every core op on WebGPU against the float64 CPU reference (forward and gradients), at odd sizes: on the
// device as the adapter offers it, and on a second device created without subgroups, so that variant
// choice falls back to the workgroup-memory tree reductions.
import * as C from '@cce/core';
import '../../packages/core/src/ops/tuned/index.js';
import { createWebGpuBackend } from '@cce/backend-webgpu';
import { conformanceSuite } from '../support/conformance.js';
import { requireBackend, webgpuAvailable } from './support.js';

if (await webgpuAvailable('conformance')) {
  conformanceSuite('conformance: webgpu', requireBackend).run();
  let plain: C.Backend | null = null;
  const s = conformanceSuite('conformance: webgpu without subgroups', async () => {
    plain = await createWebGpuBackend({ disableFeatures: ['subgroups'] });
    if (plain.capabilities.features.has('subgroups')) throw new Error('subgroups were not left off');
    return plain;
  });
  s.after(() => plain?.destroy());
  s.run();
}
