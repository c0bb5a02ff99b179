// Checks every backend makes before compiling or dispatching, so that errors read the same everywhere
// and name the kernel, the binding and the numbers; and the same capability checks as a question
// (kernelFits), which variants ask before they choose a tuned kernel.
import { type Backend, type Bindings, type Capabilities, type Grid, isBufferRange } from './backend.js';
import type { Kernel } from './ir/types.js';
import { vectorInfo } from './ir/types.js';
import { type KernelInfo, validateKernel } from './ir/validate.js';
import { describeKernel } from './autograd/op-context.js';

export function workgroupBytes(kernel: Kernel): number {
  return kernel.shared.reduce((sum, a) => sum + a.length * vectorInfo(a.type).lanes * 4, 0);
}

/** Why a backend with `caps` cannot run `kernel` (features, map-only, invocations, workgroup memory), or null. */
function capabilityProblem(kernel: Kernel, info: KernelInfo, caps: Capabilities): string | null {
  for (const need of info.requires) {
    if (!caps.features.has(need)) return `kernel '${kernel.name}' needs '${need}', which this backend lacks`;
  }
  if (caps.mapOnly && !kernel.map) return `kernel '${kernel.name}' is not a map kernel, and this backend runs only map kernels`;
  const [x, y, z] = kernel.workgroupSize;
  if (x * y * z > caps.limits.maxInvocationsPerWorkgroup) {
    return `kernel '${kernel.name}' has ${x * y * z} invocations per workgroup; the limit is ${caps.limits.maxInvocationsPerWorkgroup}`;
  }
  const bytes = workgroupBytes(kernel);
  if (bytes > caps.limits.maxWorkgroupStorageSize) {
    return `kernel '${kernel.name}' uses ${bytes} bytes of workgroup memory; the limit is ${caps.limits.maxWorkgroupStorageSize}`;
  }
  return null;
}

export function checkCapabilities(kernel: Kernel, info: KernelInfo, caps: Capabilities, backend: string): void {
  const problem = capabilityProblem(kernel, info, caps);
  if (problem) throw new Error(`${backend}: ${problem}`);
}

/** Whether `backend` can compile and run `kernel`: the checks compile() makes, without throwing. */
export function kernelFits(backend: Backend, kernel: Kernel): boolean {
  return capabilityProblem(kernel, validateKernel(kernel), backend.capabilities) === null;
}

export function checkBindings(kernel: Kernel, bindings: Bindings, grid: Grid, caps: Capabilities, backend: string): void {
  const where = `${backend}: ${describeKernel(kernel.name)}`;
  for (const decl of kernel.buffers) {
    const buf = bindings.buffers[decl.name];
    if (!buf) throw new Error(`${where}: buffer '${decl.name}' is not bound`);
    if (isBufferRange(buf) && !caps.bindingRanges) throw new Error(`${where}: buffer '${decl.name}' is bound as a range, which this backend does not support`);
    const wantsFloat = vectorInfo(decl.type).elem === 'f32';
    if (wantsFloat !== (buf.dtype === 'f32')) {
      throw new Error(`${where}: buffer '${decl.name}' is declared ${decl.type} but bound to a ${buf.dtype} buffer`);
    }
    const bytes = buf.length * 4;
    if (bytes > caps.limits.maxStorageBufferBindingSize) {
      throw new Error(`${where}: buffer '${decl.name}' is ${bytes} bytes; the largest storage binding here is ${caps.limits.maxStorageBufferBindingSize} bytes`);
    }
  }
  for (const u of kernel.uniforms) {
    const v = bindings.uniforms?.[u.name];
    if (v === undefined || !Number.isFinite(v)) throw new Error(`${where}: uniform '${u.name}' is ${v === undefined ? 'missing' : v}`);
    if (u.type !== 'f32' && !Number.isInteger(v)) throw new Error(`${where}: uniform '${u.name}' (${u.type}) must be an integer, got ${v}`);
  }
  const max = caps.limits.maxWorkgroupsPerDimension;
  if (grid.some((g) => !Number.isInteger(g) || g < 0 || g > max)) {
    throw new Error(`${where}: grid ${JSON.stringify(grid)} exceeds ${max} workgroups per dimension`);
  }
}
