// The map-variant kernels of the core ops, in the IR. Each is built once per rank / dtype combination
// (memoKernel) and takes every size as a uniform. Tuned variants live beside the op that uses them.
import { type Ex, type KernelBuilder, defineMapKernel, f32, i32, lit } from '../ir/builder.js';
import type { ElementScalar, FloatType, Kernel, NumericScalar } from '../ir/types.js';
import { memoKernel } from './launch.js';

const WG = 64;

/** Coordinates of a row-major `index` in a tensor whose shape is the uniforms shape0..shape{rank-1}. */
export function coordinates(b: KernelBuilder, index: Ex, rank: number, prefix = 'shape'): Ex[] {
  const dims = Array.from({ length: rank }, (_, d) => b.uniform(`${prefix}${d}`, 'i32'));
  const coords = new Array<Ex>(rank);
  let rest = index;
  for (let d = rank - 1; d >= 0; d--) {
    coords[d] = d === 0 ? rest : b.let(`c${d}`, rest.mod(dims[d]!));
    if (d > 0) rest = b.let(`q${d}`, rest.div(dims[d]!));
  }
  return coords;
}

/** offset + Σ coords[d] * stride[d], with strides the uniforms `${name}_st{d}` and offset `${name}_off`. */
export function stridedOffset(b: KernelBuilder, coords: Ex[], name: string, withOffset = true): Ex {
  let off: Ex = withOffset ? b.uniform(`${name}_off`, 'i32') : i32(0);
  coords.forEach((c, d) => {
    off = off.add(c.mul(b.uniform(`${name}_st${d}`, 'i32')));
  });
  return off;
}

export type ElementwiseFn = (inputs: Ex[], scalars: Ex[]) => Ex;

/**
 * out[i] = fn(in0[...], in1[...], ...) over an output of `rank` dims; each input is read through its own
 * strides (0 along broadcast dims). rank 0 means every input is contiguous with the output's shape.
 */
export function elementwiseKernel(name: string, inTypes: ElementScalar[], outType: ElementScalar, rank: number, scalars: number, fn: ElementwiseFn): Kernel {
  return memoKernel(`ew:${name}:${inTypes}:${outType}:${rank}:${scalars}`, () =>
    defineMapKernel(`ew_${name}_r${rank}`, { workgroupSize: WG, outputType: outType },
      (b) => ({
        ins: inTypes.map((t, j) => b.input(`in${j}`, t)),
        sc: Array.from({ length: scalars }, (_, j) => b.uniform(`s${j}`, 'f32')),
      }),
      ({ b, index }, { ins, sc }) => {
        const coords = rank > 0 ? coordinates(b, index, rank) : [];
        const loads = ins.map((buf, j) => buf.at(rank > 0 ? b.let(`o${j}`, stridedOffset(b, coords, `in${j}`, false)) : index));
        return fn(loads, sc);
      }));
}

/** out[i] = in[off + Σ c_d * st_d]: permute, slice, broadcast and copy in one kernel. */
export function stridedCopyKernel(type: ElementScalar, rank: number): Kernel {
  return memoKernel(`strided:${type}:${rank}`, () =>
    defineMapKernel(`strided_copy_r${rank}`, { workgroupSize: WG, outputType: type },
      (b) => b.input('src', type),
      ({ b, index }, src) => src.at(stridedOffset(b, coordinates(b, index, rank), 'src'))));
}

/** out (shape0..) = src placed at `start{d}` (the rest zero): the gradient of a slice. */
export function padKernel(type: ElementScalar, rank: number): Kernel {
  return memoKernel(`pad:${type}:${rank}`, () =>
    defineMapKernel(`pad_r${rank}`, { workgroupSize: WG, outputType: type },
      (b) => b.input('src', type),
      ({ b, index }, src) => {
        const coords = coordinates(b, index, rank);
        const v = b.var('v', lit(0, type));
        let inside: Ex | null = null;
        let off: Ex = i32(0);
        coords.forEach((c, d) => {
          const local = b.let(`p${d}`, c.sub(b.uniform(`start${d}`, 'i32')));
          const ok = local.ge(0).and(local.lt(b.uniform(`srcShape${d}`, 'i32')));
          inside = inside ? inside.and(ok) : ok;
          off = off.add(local.mul(b.uniform(`src_st${d}`, 'i32')));
        });
        b.if(inside!, () => v.set(src.at(off)));
        return v;
      }));
}

/** Concatenation of `count` inputs along `axis` (input j covers axis coordinates [lo{j}, lo{j+1})). */
export function concatKernel(type: ElementScalar, rank: number, axis: number, count: number): Kernel {
  return memoKernel(`concat:${type}:${rank}:${axis}:${count}`, () =>
    defineMapKernel(`concat${count}_r${rank}_a${axis}`, { workgroupSize: WG, outputType: type },
      (b) => Array.from({ length: count }, (_, j) => b.input(`in${j}`, type)),
      ({ b, index }, ins) => {
        const coords = coordinates(b, index, rank);
        const v = b.var('v', lit(0, type));
        const bounds = Array.from({ length: count + 1 }, (_, j) => b.uniform(`lo${j}`, 'i32'));
        ins.forEach((src, j) => {
          const c = coords.map((x, d) => (d === axis ? x.sub(bounds[j]!) : x));
          b.if(coords[axis]!.ge(bounds[j]!).and(coords[axis]!.lt(bounds[j + 1]!)), () => {
            v.set(src.at(stridedOffset(b, c, `in${j}`, false)));
          });
        });
        return v;
      }));
}

/** out[m] = reduce_k in[m * K + k] (times `scale` for sums): rows of a contiguous [M, K]. */
export function reduceRowsKernel(kind: 'sum' | 'max', type: NumericScalar): Kernel {
  return memoKernel(`reduce:${kind}:${type}`, () =>
    defineMapKernel(`reduce_${kind}_rows`, { workgroupSize: WG, outputType: type },
      (b) => ({ src: b.input('src', type), K: b.uniform('K', 'i32'), scale: b.uniform('scale', 'f32') }),
      ({ b, index }, { src, K, scale }) => {
        const base = b.let('base', index.mul(K));
        if (kind === 'sum') {
          const acc = b.var('acc', type === 'f32' ? f32(0) : i32(0));
          b.for('k', 0, K, (k) => acc.set(acc.add(src.at(base.add(k)))));
          return type === 'f32' ? acc.mul(scale) : acc;
        }
        const acc = b.var('acc', src.at(base));
        b.for('k', 1, K, (k) => acc.set(acc.max(src.at(base.add(k)))));
        return acc;
      }));
}

/** out[m] = log Σ_k exp(in[m, k]), stabilised by the row maximum. */
export function logsumexpRowsKernel(): Kernel {
  return memoKernel('lse', () =>
    defineMapKernel('logsumexp_rows', { workgroupSize: WG, outputType: 'f32' },
      (b) => ({ src: b.input('src', 'f32'), K: b.uniform('K', 'i32') }),
      ({ b, index }, { src, K }) => {
        const base = b.let('base', index.mul(K));
        const mx = b.var('mx', src.at(base));
        b.for('k', 1, K, (k) => mx.set(mx.max(src.at(base.add(k)))));
        const sum = b.var('sum', f32(0));
        b.for('k', 0, K, (k) => sum.set(sum.add(src.at(base.add(k)).sub(mx).exp())));
        return mx.add(sum.log());
      }));
}

/** rstd[m] = 1 / sqrt(mean_k (in[m,k] - mean[m])^2 + eps). */
export function rowRstdKernel(): Kernel {
  return memoKernel('rstd', () =>
    defineMapKernel('row_rstd', { workgroupSize: WG, outputType: 'f32' },
      (b) => ({ src: b.input('src', 'f32'), mean: b.input('mean', 'f32'), K: b.uniform('K', 'i32'), eps: b.uniform('eps', 'f32') }),
      ({ b, index }, { src, mean, K, eps }) => {
        const base = b.let('base', index.mul(K));
        const mu = b.let('mu', mean.at(index));
        const acc = b.var('acc', f32(0));
        b.for('k', 0, K, (k) => {
          const d = b.let('d', src.at(base.add(k)).sub(mu));
          acc.set(acc.add(d.mul(d)));
        });
        return acc.div(K.toF32()).add(eps).rsqrt();
      }));
}

/**
 * Batched matmul, one output element per invocation: out[b, i, j] = Σ_k A[b, i, k] B[b, k, j], where
 * A and B are read through strides, so transposes and broadcast batches cost nothing.
 */
/** The map matmul: one invocation per output, f32 sums (of f16 inputs too), the result in `out`'s type. */
export function matmulMapKernel(input: FloatType = 'f32', out: FloatType = 'f32'): Kernel {
  return memoKernel(`matmul:map:${input}:${out}`, () =>
    defineMapKernel(input === 'f32' && out === 'f32' ? 'matmul_map' : `matmul_map_${input}_${out}`, { workgroupSize: WG, outputType: out },
      (b) => ({
        A: b.input('a', input), B: b.input('b', input),
        M: b.uniform('M', 'i32'), N: b.uniform('N', 'i32'), K: b.uniform('K', 'i32'),
        aBatch: b.uniform('a_bs', 'i32'), aRow: b.uniform('a_rs', 'i32'), aK: b.uniform('a_ks', 'i32'),
        bBatch: b.uniform('b_bs', 'i32'), bK: b.uniform('b_ks', 'i32'), bCol: b.uniform('b_cs', 'i32'),
      }),
      ({ b, index }, u) => {
        const j = b.let('j', index.mod(u.N));
        const t = b.let('t', index.div(u.N));
        const i = b.let('i', t.mod(u.M));
        const batch = b.let('batch', t.div(u.M));
        const aBase = b.let('a_base', batch.mul(u.aBatch).add(i.mul(u.aRow)));
        const bBase = b.let('b_base', batch.mul(u.bBatch).add(j.mul(u.bCol)));
        const acc = b.var('acc', f32(0));
        const read = (x: Ex) => (input === 'f32' ? x : x.toF32());
        b.for('k', 0, u.K, (k) => acc.set(acc.add(read(u.A.at(aBase.add(k.mul(u.aK)))).mul(read(u.B.at(bBase.add(k.mul(u.bK))))))));
        return out === 'f32' ? acc : acc.toF16();
      }));
}

/**
 * NaN computed at run time (0 / 0 of a runtime zero made from the i32 `v`): WGSL refuses a NaN constant,
 * uniforms must be finite, and no compiler may fold x * 0 for floats. It marks an index outside its range
 * that no host check could catch (device-computed indices).
 */
export function runtimeNaN(b: KernelBuilder, v: Ex): Ex {
  const zero = b.let('zero', v.toF32().mul(0));
  return b.let('nan', zero.div(zero));
}

/**
 * Whether id names nothing (the row is ignored): id == ignore where the uniform `ignore_any` is 0, any
 * negative id where it is 1 (pick and oneHot without an ignoreIndex).
 */
function ignoredId(b: KernelBuilder, id: Ex): Ex {
  const anyNegative = b.uniform('ignore_any', 'i32');
  return anyNegative.ne(0).and(id.lt(0)).or(anyNegative.eq(0).and(id.eq(b.uniform('ignore', 'i32'))));
}

/**
 * out[n, d] = table[ids[n], d]: embedding lookup, from a table of V rows bound as its rows [row0, row0 +
 * rows) (the whole, or one binding window of it): ids outside the window keep out's value, written by
 * another window's dispatch. An id outside [0, V) gives a row of NaN (f32 tables; host ids are checked
 * before this runs, and i32 tables take host ids only).
 */
export function gatherRowsKernel(type: NumericScalar): Kernel {
  return memoKernel(`gather:${type}`, () =>
    defineMapKernel('gather_rows', { workgroupSize: WG, outputType: type },
      (b) => ({
        table: b.input('table', type), ids: b.input('ids', 'i32'), D: b.uniform('D', 'i32'), V: b.uniform('V', 'i32'),
        row0: b.uniform('row0', 'i32'), rows: b.uniform('window_rows', 'i32'),
      }),
      ({ b, index, out }, { table, ids, D, V, row0, rows }) => {
        const row = b.let('row', ids.at(index.div(D)));
        const local = b.let('local', row.sub(row0));
        const inWindow = b.let('in_window', local.ge(0).and(local.lt(rows)));
        const v = b.var('v', type === 'f32' ? runtimeNaN(b, row) : i32(0));
        b.if(inWindow, () => v.set(table.at(local.mul(D).add(index.mod(D)))));
        b.if(inWindow.not().and(row.ge(0)).and(row.lt(V)), () => v.set(out.at(index)));
        return v;
      }));
}

/** out[m] = src[m, ids[m]]; an ignored id (see ignoredId) gives 0, any other id outside [0, K) NaN. */
export function pickKernel(): Kernel {
  return memoKernel('pick', () =>
    defineMapKernel('pick', { workgroupSize: WG, outputType: 'f32' },
      (b) => ({ src: b.input('src', 'f32'), ids: b.input('ids', 'i32'), K: b.uniform('K', 'i32') }),
      ({ b, index }, { src, ids, K }) => {
        const col = b.let('col', ids.at(index));
        const v = b.var('v', ignoredId(b, col).select(f32(0), runtimeNaN(b, col)));
        b.if(col.ge(0).and(col.lt(K)), () => v.set(src.at(index.mul(K).add(col))));
        return v;
      }));
}

/**
 * out[m, k] = ids[m] == k ? src[m] : 0: the gradient of pick. An ignored id gives a row of zeros, any
 * other id outside [0, K) a row of NaN.
 */
export function oneHotKernel(): Kernel {
  return memoKernel('onehot', () =>
    defineMapKernel('one_hot', { workgroupSize: WG, outputType: 'f32' },
      (b) => ({ src: b.input('src', 'f32'), ids: b.input('ids', 'i32'), K: b.uniform('K', 'i32') }),
      ({ b, index }, { src, ids, K }) => {
        const m = b.let('m', index.div(K));
        const id = b.let('id', ids.at(m));
        const bad = b.let('bad', id.lt(0).or(id.ge(K)).and(ignoredId(b, id).not()));
        return bad.select(runtimeNaN(b, id), id.eq(index.mod(K)).select(src.at(m), f32(0)));
      }));
}

/** out[i] = value: fills a tensor without a host transfer (value converted to its type). */
export function fillKernel(type: ElementScalar): Kernel {
  return memoKernel(`fill:${type}`, () =>
    defineMapKernel(`fill_${type}`, { workgroupSize: WG, outputType: type },
      (b) => b.uniform('value', 'f32'),
      (_ctx, value) => (type === 'f32' ? value : value.cast(type))));
}
