// @cce/nn: modules, layers and optimizers on top of @cce/core.
export * from './module.js';
export * from './optim.js';
export * from './checkpoint/index.js';
export * from './data/index.js';
export * from './schedule.js';
export * from './layers/index.js';
export * from './clip.js';
export * from './sample.js';
import './register-ops.js';
