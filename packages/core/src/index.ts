// @cce/core: tensors, tape autograd, the kernel IR, the Backend contract and the CPU reference backend.
export * from './backend.js';
export * from './registry.js';
export * from './adapters.js';
export * from './tensor.js';
export * from './memory.js';
export * from './random.js';
export * from './ir/types.js';
export * from './ir/builder.js';
export * from './ir/validate.js';
export * from './ir/hash.js';
export * from './ir/print.js';
export * from './ir/int-semantics.js';
export * from './ir/f16.js';
export * from './kernel-checks.js';
export { MemoryCounter } from './memory-counter.js';
export { CpuBackend, type CpuBackendOptions, REFERENCE_MATRIX_CONFIGS } from './cpu/backend.js';
export { generateJs } from './cpu/codegen.js';
export * from './ops/api.js';
export { type ElementwiseFn, coordinates, runtimeNaN, stridedOffset } from './ops/kernels.js';
export { grid1d, dispatchKernel, runMap, memoKernel, contiguousStrides, lengthOf, type BufferArg } from './ops/launch.js';
export * from './ops/tuned/block-product.js';
export * from './ops/tuned/operands.js';
export * from './ops/tuned/fragment-product.js';
export * from './ops/tuned/matmul-fragments.js';
export { bindingWindows, dispatchWindows, windowOf, type Window } from './ops/windows.js';
export { broadcastShapes } from './ops/shape-utils.js';
export * from './ops/elementwise-specs.js';
export { backward } from './autograd/tape.js';
export { noGrad, isGradEnabled, record } from './autograd/record.js';
export type { OpName } from './autograd/node.js';
export type { OpAttrs, TapeNode } from './autograd/record.js';
export { vjpRules, sumTo } from './autograd/vjp.js';
export * from './autograd/fused.js';
export { currentOpName, describeKernel } from './autograd/op-context.js';
export * from './gradcheck.js';
export * from './op-check/cases.js';
export * from './op-check/check.js';
export * from './cli.js';

import { CpuBackend } from './cpu/backend.js';
import { registerBackend } from './registry.js';

// The reference interpreter is always available, as the last resort.
registerBackend({
  name: 'cpu',
  priority: 0,
  variants: ['f32', 'f64'],
  create: async (variant) => {
    if (variant && variant !== 'f32' && variant !== 'f64') throw new Error(`cpu: unknown variant '${variant}' (use cpu, cpu:f32 or cpu:f64)`);
    return new CpuBackend({ precision: variant === 'f64' ? 'f64' : 'f32' });
  },
});
