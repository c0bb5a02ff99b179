// The op suite on gpu.js 'webasm' (WebAssembly): forward and gradients against the float64 reference.
import { createGpujsBackend } from '@cce/backend-gpujs';
import { conformanceSuite } from '../support/conformance.js';

conformanceSuite('conformance: gpujs:webasm vs f64', () => createGpujsBackend('webasm')).run();
