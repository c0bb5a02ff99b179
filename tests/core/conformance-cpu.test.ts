// The float32 reference interpreter against the float64 one, op by op (forward and gradients).
import * as C from '@cce/core';
import { conformanceSuite } from '../support/conformance.js';

conformanceSuite('conformance: cpu f32 vs f64', async () => new C.CpuBackend({ precision: 'f32' })).run();
