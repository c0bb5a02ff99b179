// The op suite on gpu.js 'cpu' mode (its JavaScript backend; every f32 result rounded with Math.fround).
import { createGpujsBackend } from '@cce/backend-gpujs';
import { conformanceSuite } from '../support/conformance.js';

conformanceSuite('conformance: gpujs:cpu vs f64', () => createGpujsBackend('cpu')).run();
