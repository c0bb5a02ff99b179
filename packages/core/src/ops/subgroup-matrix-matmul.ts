// A naive matmul on subgroup matrices (tensor cores, through WebGPU's experimental subgroup matrices):
// c[M, N] = a[M, K] b[K, N], row-major, f16 (or f32) inputs, f32 or f16 results. Each subgroup owns a
// block of tilesM x tilesN result tiles of one configuration's M x N and walks k in slices of its K,
// loading its left and right tiles straight from global memory: no workgroup staging, no double
// buffering (the block-product engine's work, later). It is the check that subgroup-matrix kernels
// written with the IR mean on a GPU what they mean on the reference, and a first speed.
import type { Backend } from '../backend.js';
import { type Ex, defineKernel, lit } from '../ir/builder.js';
import { type FloatType, type Kernel, type SubgroupMatrixConfig, formatMatrixConfig, matrixType } from '../ir/types.js';
import { Tensor } from '../tensor.js';
import { dispatchKernel, memoKernel } from './launch.js';
import { fmt, requireSameBackend } from './shape-utils.js';

export interface SubgroupMatmulShape {
  config: SubgroupMatrixConfig;
  /** Result tiles per subgroup along M and N (default 1 x 1). */
  tilesM?: number;
  tilesN?: number;
  /** Subgroups per workgroup (stacked along M; default 1), found as localIndex / subgroupSize. */
  subgroups?: number;
  /** The subgroup size the workgroup is a multiple of: the backend's largest. */
  subgroupSize: number;
}

const parts = (s: SubgroupMatmulShape) => ({ tilesM: s.tilesM ?? 1, tilesN: s.tilesN ?? 1, subgroups: s.subgroups ?? 1 });

/** The rows and columns of c one workgroup computes. */
export function subgroupMatmulBlock(s: SubgroupMatmulShape): { rows: number; cols: number } {
  const { tilesM, tilesN, subgroups } = parts(s);
  return { rows: s.config.M * tilesM * subgroups, cols: s.config.N * tilesN };
}

export function subgroupMatmulKernel(s: SubgroupMatmulShape): Kernel {
  const { config: c, subgroupSize } = s;
  const { tilesM, tilesN, subgroups } = parts(s);
  const name = `sgm_matmul_${c.M}x${c.N}x${c.K}_${c.component}_${c.result}_t${tilesM}x${tilesN}_s${subgroups}_sg${subgroupSize}`;
  return memoKernel(name, () => defineKernel(name, { workgroupSize: subgroupSize * subgroups }, (b) => {
    const left = matrixType('left', c.component, c.K, c.M);
    const right = matrixType('right', c.component, c.N, c.K);
    const result = matrixType('result', c.result, c.N, c.M);
    const A = b.input('a', c.component);
    const B = b.input('b', c.component);
    const C = b.output('c', c.result);
    const N = b.uniform('N', 'i32');
    const K = b.uniform('K', 'i32');
    const sg = b.let('sg', b.localIndex().div(subgroupSize));
    const row0 = b.let('row0', b.workgroupId(1).mul(subgroups).add(sg).mul(c.M * tilesM));
    const col0 = b.let('col0', b.workgroupId(0).mul(c.N * tilesN));
    const rows = Array.from({ length: tilesM }, (_, i) => (i ? row0.add(i * c.M) : row0));
    const cols = Array.from({ length: tilesN }, (_, j) => (j ? col0.add(j * c.N) : col0));
    const acc = rows.map(() => cols.map(() => b.var('acc', b.matrixFill(result, lit(0, c.result)))));
    b.for('k0', 0, K, (k0) => {
      const as: Ex[] = rows.map((r) => b.let('ta', b.matrixLoad(left, A, r.mul(K).add(k0), K)));
      const bs: Ex[] = cols.map((col) => b.let('tb', b.matrixLoad(right, B, k0.mul(N).add(col), N)));
      acc.forEach((row, i) => row.forEach((v, j) => v.set(b.matrixMultiplyAdd(as[i]!, bs[j]!, v))));
    }, c.K);
    acc.forEach((row, i) => row.forEach((v, j) => b.matrixStore(C, rows[i]!.mul(N).add(cols[j]!), v, N)));
  }));
}

export interface SubgroupMatmulOptions extends Partial<Omit<SubgroupMatmulShape, 'config' | 'subgroupSize'>> {
  /** The product's configuration (default: the backend's first with a's dtype and `result`). */
  config?: SubgroupMatrixConfig;
  /** The result type when no config is given (default f32). */
  result?: FloatType;
}

/** The backend's subgroup-matrix configuration for inputs of `component` and results of `result`. */
export function subgroupMatrixConfigFor(backend: Backend, component: FloatType, result: FloatType): SubgroupMatrixConfig | undefined {
  return backend.capabilities.subgroupMatrixConfigs?.find((c) => c.component === component && c.result === result);
}

/**
 * a [M, K] x b [K, N] on subgroup matrices (not recorded for autograd). M, N and K must be multiples of
 * the block a workgroup computes and of the configuration's K; refused, with the numbers, otherwise,
 * and on a backend without subgroup matrices.
 */
export function subgroupMatrixMatmul(a: Tensor, b: Tensor, opts: SubgroupMatmulOptions = {}): Tensor {
  const op = 'subgroupMatrixMatmul';
  requireSameBackend(op, a, b);
  const backend = a.backend;
  const caps = backend.capabilities;
  if (a.rank !== 2 || b.rank !== 2 || a.shape[1] !== b.shape[0]) throw new Error(`${op}: needs a [M, K] and b [K, N], got ${fmt(a.shape)} and ${fmt(b.shape)}`);
  if (a.dtype !== b.dtype || a.dtype === 'i32') throw new Error(`${op}: needs two f16 (or f32) inputs, got ${a.dtype} and ${b.dtype}`);
  if (!caps.features.has('subgroupMatrix')) throw new Error(`${op}: backend '${backend.name}' has no subgroup matrices (WebGPU feature chromium-experimental-subgroup-matrix)`);
  const config = opts.config ?? subgroupMatrixConfigFor(backend, a.dtype, opts.result ?? 'f32');
  if (!config || config.component !== a.dtype) {
    throw new Error(`${op}: backend '${backend.name}' offers no subgroup-matrix product of ${a.dtype} inputs${config ? ` as ${formatMatrixConfig(config)}` : ` with ${opts.result ?? 'f32'} results`} ` +
      `(it offers ${(caps.subgroupMatrixConfigs ?? []).map(formatMatrixConfig).join(', ')})`);
  }
  const shape: SubgroupMatmulShape = { ...opts, config, subgroupSize: caps.subgroupMaxSize ?? caps.subgroupSize ?? 32 };
  const [M, K] = a.shape as [number, number];
  const N = b.shape[1]!;
  const block = subgroupMatmulBlock(shape);
  if (M % block.rows || N % block.cols || K % config.K) {
    throw new Error(`${op}: [${M}, ${K}] x [${K}, ${N}] does not divide into ${block.rows} x ${block.cols} blocks with k slices of ${config.K} (${formatMatrixConfig(config)})`);
  }
  const out = Tensor.empty([M, N], config.result, backend, op);
  if (M && N) dispatchKernel(backend, subgroupMatmulKernel(shape), { a, b, c: out }, { N, K }, [N / block.cols, M / block.rows, 1]);
  return out;
}
