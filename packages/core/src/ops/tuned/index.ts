// Tuned kernel variants (workgroup memory, barriers, vec4, subgroups). Importing this module registers
// them with the variant registry; every backend whose capabilities allow them picks them over the map
// kernels, except one that prefers map kernels (the CPU reference, where tiling only costs), which
// still runs them when a test forces one with withVariant.
import './matmul-tiled.js';
import './matmul-fragments.js';
import './reduce-rows.js';

export * from './block-product.js';
export * from './matmul-tiled.js';
export * from './reduce-rows.js';
