// Tuned kernel variants (workgroup memory, barriers, vec4, subgroups). Importing this module registers
// them with the variant registry; every backend whose capabilities allow them picks them over the map
// kernels, and the CPU reference runs them too (tests force each one with withVariant).
import './matmul-tiled.js';
import './reduce-rows.js';

export * from './matmul-tiled.js';
export * from './reduce-rows.js';
