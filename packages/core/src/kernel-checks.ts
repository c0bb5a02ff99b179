// Checks every backend makes before compiling or dispatching, so that errors read the same everywhere
// and name the kernel, the binding and the numbers; and the same capability checks as a question
// (kernelFits), which variants ask before they choose a tuned kernel.
import { type Backend, type Bindings, type Capabilities, type DType, type Grid, elementBytes, isBufferRange } from './backend.js';
import type { Capability, Kernel, ScalarType } from './ir/types.js';
import { formatMatrixConfig, vectorInfo } from './ir/types.js';
import { type KernelInfo, validateKernel } from './ir/validate.js';
import { describeKernel } from './autograd/op-context.js';

export function workgroupBytes(kernel: Kernel): number {
  return kernel.shared.reduce((sum, a) => {
    const { elem, lanes } = vectorInfo(a.type);
    return sum + a.length * lanes * (elem === 'f16' ? 2 : 4);
  }, 0);
}

/** What each capability is, for the message that refuses a kernel needing it. */
const CAPABILITY_MEANING: Record<Capability, string> = {
  workgroupMemory: 'workgroup memory and barriers',
  subgroups: 'subgroup operations',
  f16: 'f16 values: WebGPU feature shader-f16',
  subgroupMatrix: 'subgroup matrices: WebGPU feature chromium-experimental-subgroup-matrix',
};

/** Why a backend with `caps` cannot run `kernel` (features, map-only, invocations, workgroup memory), or null. */
function capabilityProblem(kernel: Kernel, info: KernelInfo, caps: Capabilities): string | null {
  for (const need of info.requires) {
    if (!caps.features.has(need)) return `kernel '${kernel.name}' needs '${need}', which this backend lacks (${CAPABILITY_MEANING[need]})`;
  }
  if (info.usesMatrices) {
    const offered = caps.subgroupMatrixConfigs ?? [];
    for (const c of info.matrixConfigs) {
      if (!offered.some((o) => formatMatrixConfig(o) === formatMatrixConfig(c))) {
        return `kernel '${kernel.name}' multiplies subgroup matrices ${formatMatrixConfig(c)} (M x N x K), which this backend does not offer ` +
          `(it offers ${offered.length ? offered.map(formatMatrixConfig).join(', ') : 'none'})`;
      }
    }
    const sg = caps.subgroupMaxSize ?? caps.subgroupSize;
    if (sg && kernel.workgroupSize[0] % sg !== 0) {
      return `kernel '${kernel.name}' uses subgroup matrices with a workgroup size of ${kernel.workgroupSize[0]} along x, ` +
        `which must be a multiple of the largest subgroup size (${sg})`;
    }
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

/** Answers of kernelFits per capabilities object (a backend's are fixed) and kernel: variants ask per dispatch. */
const fits = new WeakMap<Capabilities, WeakMap<Kernel, boolean>>();

/** Whether `backend` can compile and run `kernel`: the checks compile() makes, without throwing. */
export function kernelFits(backend: Backend, kernel: Kernel): boolean {
  const caps = backend.capabilities;
  let known = fits.get(caps);
  if (!known) fits.set(caps, (known = new WeakMap()));
  let ok = known.get(kernel);
  if (ok === undefined) known.set(kernel, (ok = capabilityProblem(kernel, validateKernel(kernel), caps) === null));
  return ok;
}

/** The buffer dtype that holds a kernel's element type (u32 data lives in i32 buffers). */
const storageOf = (elem: ScalarType): DType => (elem === 'f32' || elem === 'f16' ? elem : 'i32');

/** The storage dtype of each buffer a kernel declares, worked out once per kernel (checkBindings runs per dispatch). */
const storages = new WeakMap<Kernel, DType[]>();
function storageDtypes(kernel: Kernel): DType[] {
  let s = storages.get(kernel);
  if (!s) storages.set(kernel, (s = kernel.buffers.map((d) => storageOf(vectorInfo(d.type).elem))));
  return s;
}

/** A binding check's error, naming the backend, the kernel (and the fused op running) and the problem. */
const bindingError = (backend: string, kernel: Kernel, problem: string) => new Error(`${backend}: ${describeKernel(kernel.name)}: ${problem}`);

export function checkBindings(kernel: Kernel, bindings: Bindings, grid: Grid, caps: Capabilities, backend: string): void {
  const dtypes = storageDtypes(kernel);
  const maxBinding = caps.limits.maxStorageBufferBindingSize;
  for (let i = 0; i < kernel.buffers.length; i++) {
    const decl = kernel.buffers[i]!;
    const buf = bindings.buffers[decl.name];
    if (!buf) throw bindingError(backend, kernel, `buffer '${decl.name}' is not bound`);
    if (isBufferRange(buf) && !caps.bindingRanges) throw bindingError(backend, kernel, `buffer '${decl.name}' is bound as a range, which this backend does not support`);
    if (dtypes[i] !== buf.dtype) throw bindingError(backend, kernel, `buffer '${decl.name}' is declared ${decl.type} but bound to a ${buf.dtype} buffer`);
    const bytes = buf.length * elementBytes(buf.dtype);
    if (bytes > maxBinding) throw bindingError(backend, kernel, `buffer '${decl.name}' is ${bytes} bytes; the largest storage binding here is ${maxBinding} bytes`);
  }
  for (const u of kernel.uniforms) {
    const v = bindings.uniforms?.[u.name];
    if (v === undefined || !Number.isFinite(v)) throw bindingError(backend, kernel, `uniform '${u.name}' is ${v === undefined ? 'missing' : v}`);
    if (u.type !== 'f32' && !Number.isInteger(v)) throw bindingError(backend, kernel, `uniform '${u.name}' (${u.type}) must be an integer, got ${v}`);
  }
  const max = caps.limits.maxWorkgroupsPerDimension;
  for (let d = 0; d < grid.length; d++) {
    const g = grid[d]!;
    if (!Number.isInteger(g) || g < 0 || g > max) throw bindingError(backend, kernel, `grid ${JSON.stringify(grid)} exceeds ${max} workgroups per dimension`);
  }
}
