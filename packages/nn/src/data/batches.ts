// Batches of token windows: random windows of context + 1 tokens from the training split (seeded,
// resumable by position), and a fixed set of validation windows. Host Int32Arrays, inputs [B, T] and
// targets [B, T] shifted by one; `batchTensors` makes core i32 tensors of them.
import * as C from '@cce/core';

export interface Batch {
  /** [batch, context] row-major. */
  inputs: Int32Array;
  /** [batch, context]: inputs shifted by one (targets[b, t] = tokens[start_b + t + 1]). */
  targets: Int32Array;
  batch: number;
  context: number;
  /** The windows' first token indices. */
  starts: number[];
}

function checkArgs(where: string, n: number, context: number, batch: number): void {
  if (!Number.isInteger(context) || context < 1) throw new Error(`${where}: context ${context} is not a positive integer`);
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`${where}: batch ${batch} is not a positive integer`);
  if (n < context + 1) throw new Error(`${where}: ${n} tokens hold no window of ${context + 1} (context ${context} plus its target)`);
}

/** The batch of windows starting at `starts`. */
export function windowsBatch(tokens: ArrayLike<number>, starts: readonly number[], context: number): Batch {
  const B = starts.length;
  const inputs = new Int32Array(B * context);
  const targets = new Int32Array(B * context);
  starts.forEach((s, b) => {
    if (!Number.isInteger(s) || s < 0 || s + context + 1 > tokens.length) throw new Error(`batch: window start ${s} is outside [0, ${tokens.length - context - 1}]`);
    for (let t = 0; t < context; t++) {
      inputs[b * context + t] = tokens[s + t]!;
      targets[b * context + t] = tokens[s + t + 1]!;
    }
  });
  return { inputs, targets, batch: B, context, starts: [...starts] };
}

/** Random training windows from a seeded mulberry32 generator. `state()` (seed and batches drawn) restores
 * the exact sequence with `new BatchSampler(..., state)`. */
export class BatchSampler {
  readonly seed: number;
  private rng: C.Rng;
  private drawn = 0;

  constructor(
    readonly tokens: ArrayLike<number>,
    readonly context: number,
    readonly batch: number,
    seed: number | { seed: number; drawn: number },
  ) {
    checkArgs('BatchSampler', tokens.length, context, batch);
    const st = typeof seed === 'number' ? { seed, drawn: 0 } : seed;
    if (!Number.isInteger(st.seed) || !Number.isInteger(st.drawn) || st.drawn < 0) throw new Error(`BatchSampler: bad state ${JSON.stringify(seed)}`);
    this.seed = st.seed;
    this.rng = C.mulberry32(st.seed);
    for (let i = 0; i < st.drawn * batch; i++) this.rng();
    this.drawn = st.drawn;
  }

  /** How many window starts there are: tokens.length - context. */
  get windows(): number {
    return this.tokens.length - this.context;
  }

  next(): Batch {
    const starts: number[] = [];
    for (let b = 0; b < this.batch; b++) starts.push(Math.floor(this.rng() * this.windows));
    this.drawn++;
    return windowsBatch(this.tokens, starts, this.context);
  }

  state(): { seed: number; drawn: number } {
    return { seed: this.seed, drawn: this.drawn };
  }
}

/** `count` (40 by default) fixed validation windows drawn with a seeded generator, as batches of at
 * most `batch` windows. The same tokens, context, count and seed give the same windows. */
export function validationBatches(tokens: ArrayLike<number>, context: number, batch: number, opts: { count?: number; seed?: number } = {}): Batch[] {
  const count = opts.count ?? 40;
  checkArgs('validationBatches', tokens.length, context, batch);
  if (!Number.isInteger(count) || count < 1) throw new Error(`validationBatches: count ${count} is not a positive integer`);
  const rng = C.mulberry32(opts.seed ?? 1234);
  const starts = Array.from({ length: count }, () => Math.floor(rng() * (tokens.length - context)));
  const out: Batch[] = [];
  for (let i = 0; i < count; i += batch) out.push(windowsBatch(tokens, starts.slice(i, i + batch), context));
  return out;
}

/** The batch as core i32 tensors [batch, context] (on `backend`, default the current one). */
export function batchTensors(b: Batch, backend?: C.Backend): { inputs: C.Tensor; targets: C.Tensor } {
  const shape = [b.batch, b.context];
  return { inputs: C.tensor(b.inputs, shape, { dtype: 'i32', backend }), targets: C.tensor(b.targets, shape, { dtype: 'i32', backend }) };
}
