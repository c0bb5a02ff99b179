// Launching kernels on a tensor's backend: kernel memoisation, grid sizing, shape uniforms.
import type { Backend, DeviceBuffer, Grid } from '../backend.js';
import type { Kernel } from '../ir/types.js';
import { Tensor } from '../tensor.js';

const kernels = new Map<string, Kernel>();

/** Builds a kernel once per key (kernels depend on ranks and dtypes, never on sizes). */
export function memoKernel(key: string, build: () => Kernel): Kernel {
  let k = kernels.get(key);
  if (!k) {
    k = build();
    kernels.set(key, k);
  }
  return k;
}

/** A grid of workgroups covering `count` invocations, folded into y when x would exceed the limit. */
export function grid1d(count: number, workgroupSize: number, maxPerDim: number): Grid {
  const groups = Math.max(1, Math.ceil(count / workgroupSize));
  if (groups <= maxPerDim) return [groups, 1, 1];
  const x = maxPerDim;
  const y = Math.ceil(groups / x);
  if (y > maxPerDim) throw new Error(`${count} invocations exceed a ${maxPerDim} x ${maxPerDim} grid of ${workgroupSize}`);
  return [x, y, 1];
}

export type BufferArg = Tensor | DeviceBuffer;

/** Elements of a tensor or buffer. */
export const lengthOf = (b: BufferArg): number => (b instanceof Tensor ? b.size : b.length);

export function dispatchKernel(backend: Backend, kernel: Kernel, buffers: Record<string, BufferArg>, uniforms: Record<string, number>, grid: Grid): void {
  // A loop over the names, not Object.entries: this runs per dispatch.
  const bound: Record<string, DeviceBuffer> = {};
  for (const name in buffers) {
    const b = buffers[name]!;
    if (b instanceof Tensor) {
      if (b.backend !== backend) throw new Error(`kernel '${kernel.name}': input '${name}' lives on backend '${b.backend.name}', not '${backend.name}'`);
      bound[name] = b.buffer;
    } else bound[name] = b;
  }
  backend.dispatch(backend.compile(kernel), { buffers: bound, uniforms }, grid);
}

/**
 * Runs a map kernel writing the first `count` elements of `out` (default: all of them); its output
 * binding is 'out' and its count uniform 'count'.
 */
export function runMap(kernel: Kernel, out: Tensor, inputs: Record<string, BufferArg>, uniforms: Record<string, number> = {}, count = out.size): Tensor {
  if (count > out.size) throw new Error(`kernel '${kernel.name}': count ${count} exceeds the output's ${out.size} elements`);
  if (count === 0) return out;
  const backend = out.backend;
  const grid = grid1d(count, kernel.workgroupSize[0], backend.capabilities.limits.maxWorkgroupsPerDimension);
  dispatchKernel(backend, kernel, { ...inputs, out }, { ...uniforms, count }, grid);
  return out;
}

/** Row-major strides of a shape. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d]!;
  }
  return s;
}

/** Uniforms named `${prefix}${d}` for each entry. */
export function indexedUniforms(prefix: string, values: readonly number[]): Record<string, number> {
  return Object.fromEntries(values.map((v, d) => [`${prefix}${d}`, v]));
}
