// The op suite on gpu.js 'webgpu' mode (Dawn; lavapipe in CI): forward and gradients against the float64
// reference. Without an adapter the suite is skipped locally and FAILS when the CI variable is set.
import { suite } from 'uvu';
import { createGpujsBackend, probeMode } from '@cce/backend-gpujs';
import { conformanceSuite } from '../support/conformance.js';

const probe = await probeMode('webgpu');
if (probe.available) {
  conformanceSuite(`conformance: gpujs:webgpu (${probe.detail}) vs f64`, () => createGpujsBackend('webgpu')).run();
} else {
  const s = suite('conformance: gpujs:webgpu');
  if (process.env.CI) {
    s('a WebGPU adapter answers (required in CI)', () => {
      throw new Error(`gpujs:webgpu is unavailable in CI: ${probe.detail} (install lavapipe: scripts/setup-software-gpu.sh)`);
    });
  } else {
    s.skip(`no WebGPU adapter here (${probe.detail})`, () => {});
  }
  s.run();
}
