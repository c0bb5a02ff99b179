// CCE on gpu.js (map kernels only): the official criterion for every option on 'webasm' and, where an
// adapter answers, 'webgpu'; gradients come from the map-form gradient kernels.
import { createGpujsBackend, probeMode } from '@cce/backend-gpujs';
import { cceCriterionSuite } from '../support/cce-criterion.js';

cceCriterionSuite('cce: criterion on gpujs:webasm', () => createGpujsBackend('webasm'), [2, 19, 23, 157]).run();
if ((await probeMode('webgpu')).available) {
  cceCriterionSuite('cce: criterion on gpujs:webgpu', () => createGpujsBackend('webgpu'), [2, 19, 23, 157]).run();
}
