// Modules own parameters (leaf tensors that require grad, kept outside memory scopes), found by walking
// the module's own fields in declaration order: a field holding a parameter is named by its key, a
// submodule or an array of them adds its key (or index) as a dotted prefix, so the names read like
// `h.0.attn.c_attn.weight`. A tensor reached twice (a tied weight) is listed once, under its first name.
import * as C from '@cce/core';
import type { Tensor } from '@cce/core';

export function parameter(t: Tensor, name?: string): Tensor {
  t.requiresGrad = true;
  if (name) t.name = name;
  return C.keep(t);
}

/** Host data for loadStateDict: a checkpoint's tensor (safetensors dtype names) or plain arrays. */
export interface HostTensor {
  shape: readonly number[];
  data: Float32Array | Int32Array | Float64Array | readonly number[];
  dtype?: string;
}

export type StateDictEntry = Tensor | HostTensor;

const isParameter = (v: unknown): v is Tensor => v instanceof C.Tensor && v.requiresGrad && !v.node;

interface Slot {
  name: string;
  owner: Record<string | number, unknown>;
  key: string | number;
  tensor: Tensor;
}

const hostDtype = (e: HostTensor): 'f32' | 'i32' => {
  if (e.dtype !== undefined) {
    const d = e.dtype.toLowerCase();
    if (d === 'f32' || d === 'i32') return d;
    return d as 'f32';
  }
  return e.data instanceof Int32Array ? 'i32' : 'f32';
};

export abstract class Module {
  /** Training mode (dropout active); set for the whole tree by train() and eval(). */
  training = true;

  /** Every parameter slot, depth first in field order, each tensor once. */
  private parameterSlots(): Slot[] {
    const out: Slot[] = [];
    const seenTensors = new Set<Tensor>();
    const seenModules = new Set<Module>();
    const visit = (owner: Record<string | number, unknown>, key: string | number, v: unknown, name: string) => {
      if (isParameter(v)) {
        if (seenTensors.has(v)) return;
        seenTensors.add(v);
        out.push({ name, owner, key, tensor: v });
      } else if (v instanceof Module) {
        walk(v, `${name}.`);
      } else if (Array.isArray(v)) {
        v.forEach((item, i) => visit(v as unknown as Record<number, unknown>, i, item, `${name}.${i}`));
      }
    };
    const walk = (m: Module, prefix: string) => {
      if (seenModules.has(m)) return;
      seenModules.add(m);
      const fields = m as unknown as Record<string, unknown>;
      for (const [k, v] of Object.entries(fields)) visit(fields, k, v, `${prefix}${k}`);
    };
    walk(this, '');
    return out;
  }

  /** Every parameter of this module and its submodules, in a stable order. */
  parameters(): Tensor[] {
    return this.parameterSlots().map((s) => s.tensor);
  }

  /** name -> parameter, in the order of parameters(), names as dotted paths of fields. */
  namedParameters(): Map<string, Tensor> {
    return new Map(this.parameterSlots().map((s) => [s.name, s.tensor]));
  }

  /** The parameters themselves by name (not copies: read them to keep their values). */
  stateDict(): Map<string, Tensor> {
    return this.namedParameters();
  }

  /** Host copies of every parameter, by name, for writing a checkpoint. */
  async stateDictData(): Promise<Map<string, { dtype: 'F32' | 'I32'; shape: number[]; data: Float32Array | Int32Array }>> {
    const out = new Map<string, { dtype: 'F32' | 'I32'; shape: number[]; data: Float32Array | Int32Array }>();
    for (const [name, t] of this.namedParameters()) {
      const v = await t.read();
      const data = t.dtype === 'i32' ? Int32Array.from(v) : Float32Array.from(v);
      out.set(name, { dtype: t.dtype === 'i32' ? 'I32' : 'F32', shape: [...t.shape], data });
    }
    return out;
  }

  /**
   * Copies values into the parameters. Every name must be present with the parameter's shape and dtype
   * and nothing extra may be given; everything is checked before anything is written. Entries are
   * tensors on the parameters' backend or host data ({ shape, data, dtype? }, a safetensors tensor).
   */
  loadStateDict(state: Map<string, StateDictEntry> | Record<string, StateDictEntry>): void {
    const entries = state instanceof Map ? state : new Map(Object.entries(state));
    const params = this.namedParameters();
    const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;
    const missing = [...params.keys()].filter((k) => !entries.has(k));
    const unexpected = [...entries.keys()].filter((k) => !params.has(k));
    if (missing.length || unexpected.length) {
      const parts = [];
      if (missing.length) parts.push(`missing ${missing.map((k) => `'${k}'`).join(', ')}`);
      if (unexpected.length) parts.push(`unexpected ${unexpected.map((k) => `'${k}'`).join(', ')}`);
      throw new Error(`loadStateDict: ${parts.join('; ')}`);
    }
    for (const [name, p] of params) {
      const e = entries.get(name)!;
      const dtype = e instanceof C.Tensor ? e.dtype : hostDtype(e);
      if (dtype !== p.dtype) throw new Error(`loadStateDict: '${name}' is ${e instanceof C.Tensor ? dtype : (e as HostTensor).dtype ?? dtype}, the parameter is ${p.dtype}`);
      if (e.shape.length !== p.shape.length || e.shape.some((v, i) => v !== p.shape[i])) {
        throw new Error(`loadStateDict: '${name}' has shape ${fmt(e.shape)}, the parameter has ${fmt(p.shape)}`);
      }
      if (e instanceof C.Tensor) {
        if (e.backend !== p.backend) throw new Error(`loadStateDict: '${name}' lives on another backend than the parameter (read it to host data first)`);
        if (e.disposed) throw new Error(`loadStateDict: '${name}' was disposed`);
      } else if (e.data.length !== p.size) {
        throw new Error(`loadStateDict: '${name}' has ${e.data.length} values, its shape ${fmt(e.shape)} needs ${p.size}`);
      }
    }
    C.noGrad(() => {
      for (const [name, p] of params) {
        const e = entries.get(name)!;
        if (e === p) continue;
        const src = e instanceof C.Tensor
          ? C.mulScalar(e, 1)
          : C.tensor(e.data as ArrayLike<number>, p.shape, { dtype: p.dtype, backend: p.backend });
        p.assign(src);
      }
    });
  }

  /**
   * Runs fn with the parameters replaced by `tensors` (in the order of parameters()), then puts the
   * originals back: for gradcheck, which evaluates the model on its own copies of the inputs.
   */
  withParameters<T>(tensors: readonly Tensor[], fn: () => T): T {
    const slots = this.parameterSlots();
    if (tensors.length !== slots.length) throw new Error(`withParameters: ${tensors.length} tensors for ${slots.length} parameters`);
    slots.forEach((s, i) => {
      const t = tensors[i]!;
      if (t.shape.join() !== s.tensor.shape.join()) throw new Error(`withParameters: '${s.name}' is [${s.tensor.shape}], got [${t.shape}]`);
    });
    const originals = slots.map((s) => s.tensor);
    replaceTensors(this, new Map(originals.map((t, i) => [t, tensors[i]!])));
    try {
      return fn();
    } finally {
      replaceTensors(this, new Map(tensors.map((t, i) => [t, originals[i]!])));
    }
  }

  /** Submodules, depth first in field order (this one first). */
  modules(): Module[] {
    const out: Module[] = [];
    const visit = (v: unknown) => {
      if (v instanceof Module) {
        if (out.includes(v)) return;
        out.push(v);
        for (const f of Object.values(v)) visit(f);
      } else if (Array.isArray(v)) {
        v.forEach(visit);
      }
    };
    visit(this);
    return out;
  }

  /** Sets training mode on this module and every submodule. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  /** Evaluation mode: train(false). */
  eval(): this {
    return this.train(false);
  }

  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  dispose(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.dispose();
    }
  }
}

export interface LinearOptions {
  bias?: boolean;
  seed?: number;
  backend?: C.Backend;
  /** Standard deviation of the weight's normal init (default 1 / sqrt(in)). */
  std?: number;
}

/** y = x W + b with W [in, out], initialised N(0, 1/in) (or N(0, std²)), b zero. */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: LinearOptions = {}) {
    super();
    const std = opts.std ?? 1 / Math.sqrt(inFeatures);
    this.weight = parameter(C.randn([inFeatures, outFeatures], { std, seed: opts.seed, backend: opts.backend }), 'weight');
    this.bias = opts.bias === false ? null : parameter(C.zeros([outFeatures], { backend: opts.backend }), 'bias');
  }

  forward(x: Tensor): Tensor {
    if (x.shape[x.rank - 1] !== this.inFeatures) {
      throw new Error(`Linear(${this.inFeatures} -> ${this.outFeatures}): input has ${x.shape[x.rank - 1]} features, shape [${x.shape}]`);
    }
    const y = C.matmul(x, this.weight);
    return this.bias ? C.add(y, this.bias) : y;
  }
}

export type Activation = 'gelu' | 'relu' | 'tanh';

/** A multi-layer perceptron: Linear, activation, ..., Linear. */
export class MLP extends Module {
  readonly layers: Linear[];

  constructor(sizes: number[], readonly activation: Activation = 'gelu', opts: { seed?: number; backend?: C.Backend } = {}) {
    super();
    if (sizes.length < 2) throw new Error(`MLP needs at least an input and an output size, got [${sizes}]`);
    this.layers = sizes.slice(1).map((out, i) => new Linear(sizes[i]!, out, { seed: (opts.seed ?? 1) * 1000 + i, backend: opts.backend }));
  }

  forward(x: Tensor): Tensor {
    let h = x;
    this.layers.forEach((layer, i) => {
      h = layer.forward(h);
      if (i < this.layers.length - 1) h = C[this.activation](h);
    });
    return h;
  }
}

/**
 * Replaces every field of `root` and its submodules (and arrays of them) holding a key of `replace` by
 * its value: every owner, including a module that holds a tied tensor a second time.
 */
function replaceTensors(root: Module, replace: Map<Tensor, Tensor>): void {
  const visited = new Set<unknown>();
  const walk = (obj: Record<string | number, unknown>) => {
    if (visited.has(obj)) return;
    visited.add(obj);
    for (const [k, v] of Object.entries(obj)) {
      if (v instanceof C.Tensor) {
        const r = replace.get(v);
        if (r) obj[k] = r;
      } else if (v instanceof Module || Array.isArray(v)) {
        walk(v as unknown as Record<string | number, unknown>);
      }
    }
  };
  walk(root as unknown as Record<string, unknown>);
}
