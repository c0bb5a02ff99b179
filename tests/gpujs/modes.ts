// The gpu.js modes the gpujs tests run on here: 'webasm' and 'cpu' always, 'webgpu' where an adapter
// answers (its absence in CI is a failure of conformance-webgpu.test.ts).
import { type GpujsMode, probeMode } from '@cce/backend-gpujs';

let modes: Promise<GpujsMode[]> | null = null;

export function testModes(): Promise<GpujsMode[]> {
  modes ??= (async () => {
    const out: GpujsMode[] = ['webasm', 'cpu'];
    if ((await probeMode('webgpu')).available) out.unshift('webgpu');
    return out;
  })();
  return modes;
}
