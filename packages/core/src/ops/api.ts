// Every core op, in one import.
export * from './creation.js';
export * from './elementwise.js';
export * from './shape-ops.js';
export * from './reduce.js';
export * from './matmul.js';
export * from './index-ops.js';
export * from './nn-ops.js';
export * from './variants.js';
export * from './subgroup-matrix-matmul.js';
import './tuned/index.js';
