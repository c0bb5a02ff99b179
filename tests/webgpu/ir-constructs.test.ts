// Every IR construct lowered to WGSL and run on WebGPU, compared with the CPU reference (f32, with the
// adapter's subgroup size) on the same inputs: integer wrap, division by zero, shifts, casts, float
// functions, select, vectors, workgroup memory, barriers, loops with steps, return, builtins on every
// axis, subgroup operations, and identifiers that WGSL reserves.
import { suite } from 'uvu';
import * as C from '@cce/core';
import type { Backend, DType, Grid, Kernel } from '@cce/core';
import {
  INT_OPS_RESULTS, SUBGROUP_RESULTS, floatOpsKernel, intOpsKernel, reservedNamesKernel, sharedKernel, subgroupKernel, vectorKernel,
} from './kernels.js';
import { requireBackend, webgpuAvailable } from './support.js';

interface Run {
  kernel: Kernel;
  inputs: Record<string, { dtype: DType; data: ArrayLike<number> }>;
  outputs: Record<string, { dtype: DType; length: number }>;
  uniforms: Record<string, number>;
  grid: Grid;
}

async function execute(backend: Backend, r: Run): Promise<Record<string, ArrayLike<number>>> {
  const bufs: Record<string, C.DeviceBuffer> = {};
  for (const [name, x] of Object.entries(r.inputs)) {
    bufs[name] = backend.allocate(x.data.length, x.dtype);
    backend.write(bufs[name]!, x.data);
  }
  for (const [name, o] of Object.entries(r.outputs)) {
    bufs[name] = backend.allocate(o.length, o.dtype);
    backend.write(bufs[name]!, new Array<number>(o.length).fill(-1));
  }
  backend.dispatch(backend.compile(r.kernel), { buffers: bufs, uniforms: r.uniforms }, r.grid);
  const result: Record<string, ArrayLike<number>> = {};
  for (const name of Object.keys(r.outputs)) result[name] = await backend.read(bufs[name]!);
  for (const b of Object.values(bufs)) backend.free(b);
  return result;
}

function compare(what: string, got: ArrayLike<number>, want: ArrayLike<number>, exact: boolean): void {
  if (got.length !== want.length) throw new Error(`${what}: ${got.length} values, expected ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    const ok = exact ? Object.is(g, w) || g === w : Math.abs(g - w) <= 1e-4 + 1e-4 * Math.abs(w);
    if (!ok) throw new Error(`${what}: element ${i} is ${g} on webgpu, ${w} on the CPU reference`);
  }
}

const rng = C.mulberry32(7);
const floats = (n: number, scale = 2) => Float32Array.from({ length: n }, () => (rng() * 2 - 1) * scale);
const ints = (n: number, special: number[]) => Int32Array.from({ length: n }, (_, i) => (i < special.length ? special[i]! : Math.floor((rng() * 2 - 1) * 1000)));

const SPECIAL_X = [2147483647, -2147483648, -7, 7, 0, 5, -5, 123456789, 1 << 30, -1];
const SPECIAL_Y = [1, -1, 2, -2, 0, 0, 33, -3, 40, 31];

const runs: Record<string, (backend: Backend) => Run> = {
  'integer ops (wrap, x/0, x%0, shifts, u32, casts, select)': () => ({
    kernel: intOpsKernel,
    inputs: { x: { dtype: 'i32', data: ints(21, SPECIAL_X) }, y: { dtype: 'i32', data: ints(21, SPECIAL_Y) } },
    outputs: { out: { dtype: 'i32', length: 21 * INT_OPS_RESULTS } },
    uniforms: { n: 21 },
    grid: [3, 1, 1],
  }),
  'float functions (exp, log, tanh at large |x|, pow, %, casts, select)': () => ({
    kernel: floatOpsKernel,
    inputs: { x: { dtype: 'f32', data: floats(13) } },
    outputs: { out: { dtype: 'f32', length: 13 * 16 } },
    uniforms: { big: 1e10, count: 13 * 16 },
    grid: [13, 1, 1],
  }),
  'vectors (vec4 buffers, vec2<i32>, components, lanewise ops)': () => ({
    kernel: vectorKernel,
    inputs: { x: { dtype: 'f32', data: floats(4 * 9) }, q: { dtype: 'i32', data: ints(2 * 9, [-7, 9, 2147483647, -1]) } },
    outputs: { out: { dtype: 'f32', length: 4 * 9 }, out_i: { dtype: 'i32', length: 2 * 9 } },
    uniforms: { n: 9 },
    grid: [3, 1, 1],
  }),
  'workgroup memory, barrier, 2-D workgroups, 3-D grid, strided loop, return': () => ({
    kernel: sharedKernel,
    inputs: { x: { dtype: 'f32', data: floats(96) } },
    outputs: { out: { dtype: 'f32', length: 96 }, ids: { dtype: 'i32', length: 96 * 6 } },
    uniforms: {},
    grid: [2, 3, 2],
  }),
  'identifiers WGSL reserves (max, select, loop, exp, var)': () => ({
    kernel: reservedNamesKernel,
    inputs: { max: { dtype: 'f32', data: floats(70) } },
    outputs: { out: { dtype: 'f32', length: 70 } },
    uniforms: { select: -1.5, count: 70 },
    grid: [2, 1, 1],
  }),
};

const exactOutputs = new Set(['ids', 'out_i']);

if (await webgpuAvailable('ir constructs')) {
  const s = suite('ir constructs: webgpu vs cpu reference');
  let gpu: Backend;
  let cpu: Backend;
  s.before(async () => {
    gpu = await requireBackend();
    cpu = new C.CpuBackend({ precision: 'f32', subgroupSize: gpu.capabilities.subgroupSize ?? 32 });
  });
  for (const [name, make] of Object.entries(runs)) {
    s(name, async () => {
      const r = make(gpu);
      const [g, c] = [await execute(gpu, r), await execute(cpu, r)];
      for (const out of Object.keys(r.outputs)) {
        compare(`${r.kernel.name}.${out}`, g[out]!, c[out]!, exactOutputs.has(out) || r.outputs[out]!.dtype === 'i32');
      }
    });
  }
  s('subgroup operations (add, max, min, broadcast, shuffle, vec2, size)', async () => {
    if (!gpu.capabilities.features.has('subgroups')) {
      if (process.env.CI) throw new Error('the CI adapter (lavapipe) offers subgroups; this one does not');
      console.warn('webgpu: adapter without subgroups, subgroup test not run');
      return;
    }
    const r: Run = {
      kernel: subgroupKernel,
      inputs: { x: { dtype: 'f32', data: Float32Array.from({ length: 64 }, (_, i) => ((i * 37) % 64) / 8 - 4) } },
      outputs: { out: { dtype: 'f32', length: 64 * SUBGROUP_RESULTS } },
      uniforms: {},
      grid: [2, 1, 1],
    };
    const [g, c] = [await execute(gpu, r), await execute(cpu, r)];
    compare('ir_subgroups.out', g.out!, c.out!, false);
  });
  s('the generated WGSL is one statement per line with named bindings', async () => {
    const src = (gpu as unknown as { wgslOf(k: Kernel): string }).wgslOf(sharedKernel);
    for (const name of ['var<storage, read> x: array<f32>', 'var<storage, read_write> out: array<f32>', 'var<workgroup> tile: array<f32, 8>']) {
      if (!src.includes(name)) throw new Error(`expected '${name}' in:\n${src}`);
    }
    for (const line of src.split('\n')) {
      if ((line.match(/;/g) ?? []).length > 1 && !line.trimStart().startsWith('for (')) throw new Error(`more than one statement on a line: ${line}`);
    }
  });
  s.run();
}
