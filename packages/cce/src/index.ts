// @cce/cce: Cut Cross-Entropy, the fused linear + cross-entropy op, and the naive reference.
export * from './options.js';
export * from './naive.js';
export * from './linear-cross-entropy.js';
export { sortedPermutation, meanLogits } from './sort.js';
export * from './synthetic.js';
export { setBlockShape, resetBlockShapes, BLOCK_SHAPES, type BlockRole } from './kernels/block-shapes.js';
import './register-ops.js';
