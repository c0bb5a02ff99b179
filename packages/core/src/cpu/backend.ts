// The CPU reference backend: runs kernels of the IR by compiling them to JavaScript (codegen.ts) and
// executing each workgroup's invocations in lockstep, so that workgroup memory, barriers and subgroup
// operations mean what they mean on a GPU. In 'f64' mode f32 tensors are stored and computed in
// float64 (gradient checks); in 'f32' mode every float result is rounded with Math.fround. f16 tensors
// hold f16 values (in a Float32Array, which holds each exactly) and every f16 result is rounded to f16
// in both modes. Subgroup matrices are resolved per subgroup (subgroup-matrix.ts).
import {
  type Backend, type Bindings, type Capabilities, type DType, type DeviceBuffer, type Executable, type Grid, type MemoryStats,
  isBufferRange,
} from '../backend.js';
import { kernelHash } from '../ir/hash.js';
import { f2i, f2u, h2i, h2u, idiv, imod, udiv, umod } from '../ir/int-semantics.js';
import type { Kernel, ScalarType, SubgroupMatrixConfig } from '../ir/types.js';
import { vectorInfo } from '../ir/types.js';
import { f16Round } from '../ir/f16.js';
import { type MatrixRequest, resolveMatrix } from './subgroup-matrix.js';
import { validateKernel } from '../ir/validate.js';
import { type Precision, generateJs } from './codegen.js';
import { checkBindings, checkCapabilities } from '../kernel-checks.js';
import { MemoryCounter } from '../memory-counter.js';
import { describeKernel } from '../autograd/op-context.js';

type Storage = Float64Array | Float32Array | Int32Array | Uint32Array;

class CpuBuffer implements DeviceBuffer {
  freed = false;
  constructor(readonly length: number, readonly dtype: DType, readonly data: Storage) {}
  get bytes() { return this.dtype === 'f16' ? this.length * 2 : this.data.byteLength; }
}

interface CpuExecutable extends Executable {
  run: (...args: unknown[]) => unknown;
  lockstep: boolean;
}

export interface CpuBackendOptions {
  precision?: Precision;
  /** Subgroup size the interpreter emulates (4, 8 and 32 are tested). */
  subgroupSize?: number;
  /** The largest storage binding in bytes (to test chunking on small data; default 2 GiB). */
  maxStorageBufferBindingSize?: number;
  /** The subgroup-matrix products offered (default REFERENCE_MATRIX_CONFIGS; [] for none). */
  subgroupMatrixConfigs?: readonly SubgroupMatrixConfig[];
}

/**
 * The subgroup-matrix configurations the reference offers by default: those Dawn offers on NVIDIA
 * through Vulkan (f16 x f16 -> f16 or f32, M x N x K = 16x16x16, 16x8x16, 16x8x8).
 */
export const REFERENCE_MATRIX_CONFIGS: readonly SubgroupMatrixConfig[] = [[16, 16, 16], [16, 8, 16], [16, 8, 8]].flatMap(([M, N, K]) =>
  (['f16', 'f32'] as const).map((result) => ({ M: M!, N: N!, K: K!, component: 'f16' as const, result })));

class OutOfBoundsError extends Error {}
const rd = (a: Storage, i: number, name: string) => {
  if (!(i >= 0 && i < a.length)) throw new OutOfBoundsError(`read of '${name}'[${i}] out of bounds (length ${a.length})`);
  return a[i]!;
};
const rdv = (a: Storage, i: number, lanes: number, name: string) => {
  const base = i * lanes;
  if (!(i >= 0 && base + lanes <= a.length)) throw new OutOfBoundsError(`read of '${name}'[${i}] (vec${lanes}) out of bounds (length ${a.length / lanes})`);
  return Array.from(a.subarray(base, base + lanes));
};
const wr = (a: Storage, i: number, v: number | boolean, name: string) => {
  if (!(i >= 0 && i < a.length)) throw new OutOfBoundsError(`write of '${name}'[${i}] out of bounds (length ${a.length})`);
  a[i] = Number(v);
};
const wrv = (a: Storage, i: number, lanes: number, v: number[], name: string) => {
  const base = i * lanes;
  if (!(i >= 0 && base + lanes <= a.length)) throw new OutOfBoundsError(`write of '${name}'[${i}] (vec${lanes}) out of bounds (length ${a.length / lanes})`);
  for (let k = 0; k < lanes; k++) a[base + k] = v[k]!;
};
const HELPERS = { rd, rdv, wr, wrv, idiv, imod, udiv, umod, f2i, f2u, h2i, h2u, f16r: f16Round };

type SubgroupRequest = [site: number, op: string, value: number | number[], lane: number, elem: ScalarType];
type SyncRequest = 0 | SubgroupRequest | [site: number, op: 'matrix', request: MatrixRequest];

export class CpuBackend implements Backend {
  readonly name: string;
  readonly description: string;
  readonly capabilities: Capabilities;
  readonly precision: Precision;
  readonly subgroupSize: number;
  private readonly cache = new Map<string, CpuExecutable>();
  private readonly counter = new MemoryCounter();

  constructor(opts: CpuBackendOptions = {}) {
    this.precision = opts.precision ?? 'f32';
    this.subgroupSize = opts.subgroupSize ?? 32;
    this.name = this.precision === 'f64' ? 'cpu:f64' : 'cpu';
    this.description = `reference IR interpreter, ${this.precision}, subgroup size ${this.subgroupSize}`;
    const matrixConfigs = opts.subgroupMatrixConfigs ?? REFERENCE_MATRIX_CONFIGS;
    this.capabilities = {
      features: new Set(['workgroupMemory', 'subgroups', 'f16', ...(matrixConfigs.length ? ['subgroupMatrix' as const] : [])]),
      subgroupSize: this.subgroupSize,
      subgroupMatrixConfigs: matrixConfigs,
      mapOnly: false,
      bindingRanges: true,
      prefersMapKernels: true,
      limits: {
        maxStorageBufferBindingSize: opts.maxStorageBufferBindingSize ?? 2 ** 31 - 1,
        maxBufferSize: 2 ** 31 - 1,
        maxWorkgroupStorageSize: 48 * 1024,
        maxInvocationsPerWorkgroup: 1024,
        maxWorkgroupsPerDimension: 65535,
      },
    };
  }

  private floatArray(n: number): Float64Array | Float32Array {
    return this.precision === 'f64' ? new Float64Array(n) : new Float32Array(n);
  }

  allocate(length: number, dtype: DType): DeviceBuffer {
    if (!Number.isInteger(length) || length < 0) throw new Error(`cpu: cannot allocate ${length} elements`);
    // Checked before the typed array exists: past the limit it would take gigabytes, or throw a RangeError.
    const limit = this.capabilities.limits.maxBufferSize;
    if (length * 4 > limit) {
      throw new Error(`${this.name}: a buffer of ${length} ${dtype} elements (${length * 4} bytes) exceeds this backend's largest buffer (${limit} bytes)`);
    }
    const data = dtype === 'f32' ? this.floatArray(length) : dtype === 'f16' ? new Float32Array(length) : new Int32Array(length);
    const buf = new CpuBuffer(length, dtype, data);
    this.counter.allocated(buf.bytes);
    return buf;
  }

  free(buffer: DeviceBuffer): void {
    const b = buffer as CpuBuffer;
    if (b.freed) throw new Error('cpu: buffer freed twice');
    b.freed = true;
    this.counter.freed(b.bytes);
  }

  write(buffer: DeviceBuffer, data: ArrayLike<number>, offset = 0): void {
    const b = this.own(buffer, 'write');
    if (offset + data.length > b.length) throw new Error(`cpu: write of ${data.length} elements at ${offset} exceeds buffer of ${b.length}`);
    b.data.set(b.dtype === 'f16' ? Array.from(data, f16Round) : data, offset);
  }

  async read(buffer: DeviceBuffer): Promise<Float64Array | Float32Array | Int32Array> {
    const b = this.own(buffer, 'read');
    return b.data.slice() as Float64Array | Float32Array | Int32Array;
  }

  compile(kernel: Kernel): Executable {
    const hash = kernelHash(kernel);
    const hit = this.cache.get(hash);
    if (hit) return hit;
    const info = validateKernel(kernel);
    checkCapabilities(kernel, info, this.capabilities, this.name);
    const gen = generateJs(kernel, info, this.precision, this.subgroupSize);
    let run: CpuExecutable['run'];
    try {
      run = new Function('B', 'U', 'S', 'wx', 'wy', 'wz', 'nx', 'ny', 'nz', ...Object.keys(HELPERS), gen.source) as CpuExecutable['run'];
    } catch (e) {
      throw new Error(`cpu: kernel '${kernel.name}' generated invalid JavaScript: ${(e as Error).message}\n${gen.source}`);
    }
    const exe: CpuExecutable = { kernel, hash, run, lockstep: gen.lockstep };
    this.cache.set(hash, exe);
    return exe;
  }

  dispatch(executable: Executable, bindings: Bindings, grid: Grid): void {
    const exe = executable as CpuExecutable;
    const kernel = exe.kernel;
    checkBindings(kernel, bindings, grid, this.capabilities, this.name);
    const B: Record<string, Storage> = {};
    for (const decl of kernel.buffers) {
      const bound = bindings.buffers[decl.name]!;
      const what = `kernel '${kernel.name}' binding '${decl.name}'`;
      if (isBufferRange(bound)) {
        const base = this.own(bound.base, what);
        B[decl.name] = base.data.subarray(bound.offset, bound.offset + bound.length);
      } else {
        B[decl.name] = this.own(bound, what).data;
      }
    }
    const U: Record<string, number> = {};
    for (const u of kernel.uniforms) {
      const v = bindings.uniforms![u.name]!;
      U[u.name] = u.type === 'f32' ? (this.precision === 'f32' ? Math.fround(v) : v) : u.type === 'i32' ? v | 0 : v >>> 0;
    }
    const helpers = Object.values(HELPERS);
    const [nx, ny, nz] = grid;
    try {
      for (let wz = 0; wz < nz; wz++) {
        for (let wy = 0; wy < ny; wy++) {
          for (let wx = 0; wx < nx; wx++) {
            const S = this.workgroupArrays(kernel);
            const ret = exe.run(B, U, S, wx, wy, wz, nx, ny, nz, ...helpers);
            if (exe.lockstep) this.runLockstep(kernel, ret as LockstepFactory, [wx, wy, wz], grid);
          }
        }
      }
    } catch (e) {
      if (e instanceof OutOfBoundsError) throw new Error(`cpu: ${describeKernel(kernel.name)}: ${e.message}`);
      throw e;
    }
  }

  private workgroupArrays(kernel: Kernel): Record<string, Storage> {
    const S: Record<string, Storage> = {};
    for (const a of kernel.shared) {
      const { elem, lanes } = vectorInfo(a.type);
      const n = a.length * lanes;
      S[a.name] = elem === 'f32' ? this.floatArray(n) : elem === 'f16' ? new Float32Array(n) : elem === 'u32' ? new Uint32Array(n) : new Int32Array(n);
    }
    return S;
  }

  /**
   * Runs one workgroup's invocations in lockstep: every invocation runs to its next barrier or subgroup
   * operation; subgroup operations are resolved among the subgroup's active invocations (those that have
   * not returned), barriers release when every invocation of the workgroup has reached them. Divergence at
   * a barrier or inside a subgroup is an error, as it is undefined on a GPU.
   */
  private runLockstep(kernel: Kernel, factory: LockstepFactory, w: [number, number, number], grid: Grid): void {
    const [WX, WY, WZ] = kernel.workgroupSize;
    const W = WX * WY * WZ;
    const sg = this.subgroupSize;
    const gens: Generator<SyncRequest, void, unknown>[] = [];
    for (let lz = 0; lz < WZ; lz++) for (let ly = 0; ly < WY; ly++) for (let lx = 0; lx < WX; lx++) {
      gens.push(factory(w[0], w[1], w[2], grid[0], grid[1], grid[2], lx, ly, lz));
    }
    const state = gens.map((g) => g.next());
    const where = `workgroup (${w.join(', ')})`;
    for (;;) {
      let live = 0;
      let atSubgroup = false;
      for (const s of state) {
        if (!s.done) {
          live++;
          if (s.value !== 0) atSubgroup = true;
        }
      }
      if (live === 0) return;
      if (atSubgroup) {
        for (let base = 0; base < W; base += sg) {
          const members: number[] = [];
          let reqSite = -1;
          for (let li = base; li < Math.min(base + sg, W); li++) {
            const s = state[li]!;
            if (s.done) continue;
            members.push(li);
            const site = s.value === 0 ? -2 : s.value[0];
            if (reqSite === -1) reqSite = site;
            else if (reqSite !== site) {
              throw new Error(`cpu: kernel '${kernel.name}': invocations of one subgroup diverged at a subgroup operation or barrier in ${where}`);
            }
          }
          if (reqSite < 0) continue;
          const reqs = members.map((li) => state[li]!.value as Exclude<SyncRequest, 0>);
          const results = reqs[0]![1] === 'matrix'
            ? resolveMatrix(reqs.map((r) => r[2] as MatrixRequest), { kernel: kernel.name, precision: this.precision, subgroupSize: sg, where })
            : resolveSubgroup(reqs as SubgroupRequest[], members.map((li) => li - base), this.precision, kernel.name);
          members.forEach((li, j) => { state[li] = gens[li]!.next(results[j]); });
        }
        continue;
      }
      if (live !== W) {
        throw new Error(`cpu: kernel '${kernel.name}': barrier reached by ${live} of ${W} invocations in ${where} (the others returned): barriers must be in uniform control flow`);
      }
      for (let li = 0; li < W; li++) state[li] = gens[li]!.next();
    }
  }

  private own(buffer: DeviceBuffer | undefined, what: string): CpuBuffer {
    if (!(buffer instanceof CpuBuffer)) throw new Error(`cpu: ${what}: not a buffer of this backend`);
    if (buffer.freed) throw new Error(`cpu: ${what}: buffer was freed`);
    return buffer;
  }

  async flush(): Promise<void> {}

  memory(): MemoryStats {
    return this.counter.stats();
  }
  resetPeak(): void {
    this.counter.resetPeak();
  }
  destroy(): void {
    this.cache.clear();
  }
}

type LockstepFactory = (...args: number[]) => Generator<SyncRequest, void, unknown>;

function resolveSubgroup(reqs: SubgroupRequest[], lanes: number[], precision: Precision, kernel: string): (number | number[])[] {
  const op = reqs[0]![1];
  const elem = reqs[0]![4];
  const round = (x: number) => (elem === 'f16' ? f16Round(x) : elem === 'f32' ? (precision === 'f32' ? Math.fround(x) : x) : elem === 'i32' ? x | 0 : x >>> 0);
  const combine = (f: (a: number, b: number) => number) => {
    const vals = reqs.map((r) => r[2]);
    const acc = vals.slice(1).reduce((a, v) =>
      Array.isArray(a) ? a.map((x, k) => round(f(x, (v as number[])[k]!))) : round(f(a, v as number)), vals[0]!);
    return reqs.map(() => acc);
  };
  const fromLane = (lane: number) => {
    const j = lanes.indexOf(lane);
    if (j < 0) throw new Error(`cpu: kernel '${kernel}': subgroup ${op} reads lane ${lane}, which is inactive`);
    return reqs[j]![2];
  };
  switch (op) {
    case 'add': return combine((a, b) => a + b);
    case 'max': return combine(Math.max);
    case 'min': return combine(Math.min);
    case 'broadcast': return reqs.map((r) => fromLane(r[3]));
    case 'shuffle': return reqs.map((r) => fromLane(r[3]));
  }
  throw new Error(`cpu: unknown subgroup op ${op}`);
}
