// Synthetic data for CCE tests, demos and benchmarks: random (nothing to filter: the worst case) and
// peaky, whose softmax has a mean entropy of about 3 nats like a trained language model's.
import * as C from '@cce/core';
import type { Backend, Tensor } from '@cce/core';

export interface CceData {
  e: Float32Array; // [N, D]
  c: Float32Array; // [V, D]
  targets: Int32Array; // [N]
}

function normal(rng: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
}

/** Standard normal e and c scaled by 1/sqrt(D)-ish so logits have unit spread; uniform targets. */
export function randomCceData(N: number, D: number, V: number, seed: number, ignoreFraction = 0): CceData {
  const rng = C.mulberry32(seed);
  const e = Float32Array.from({ length: N * D }, () => normal(rng));
  const c = Float32Array.from({ length: V * D }, () => normal(rng) / Math.sqrt(D));
  const targets = Int32Array.from({ length: N }, () => (rng() < ignoreFraction ? -100 : Math.floor(rng() * V)));
  return { e, c, targets };
}

/**
 * Peaky data: the last feature of e is 1 and the last column of c gives entry v (in a shuffled order)
 * the logit offset -rank(v)/tau, a geometric popularity falloff; the other features add token-to-token
 * variation. Targets are drawn from each token's own softmax, as a trained model's targets mostly are;
 * with `exactTargets: false` they are drawn from the popularity falloff alone, which costs O(N + V)
 * instead of O(N V D) on the host (for benchmark shapes).
 */
export function peakyCceData(N: number, D: number, V: number, seed: number, tau = 10, exactTargets = true): CceData {
  const rng = C.mulberry32(seed);
  const order = Array.from({ length: V }, (_, i) => i);
  for (let i = V - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const e = new Float32Array(N * D);
  const c = new Float32Array(V * D);
  for (let i = 0; i < N; i++) {
    for (let d = 0; d < D - 1; d++) e[i * D + d] = normal(rng);
    e[i * D + D - 1] = 1;
  }
  order.forEach((v, rank) => {
    for (let d = 0; d < D - 1; d++) c[v * D + d] = (normal(rng) * 0.8) / Math.sqrt(D - 1);
    c[v * D + D - 1] = -rank / tau;
  });
  const targets = new Int32Array(N);
  if (!exactTargets) {
    for (let i = 0; i < N; i++) targets[i] = order[Math.min(V - 1, Math.floor(-tau * Math.log(1 - rng())))]!;
    return { e, c, targets };
  }
  const logits = new Float64Array(V);
  for (let i = 0; i < N; i++) {
    let mx = -Infinity;
    for (let v = 0; v < V; v++) {
      let z = 0;
      for (let d = 0; d < D; d++) z += e[i * D + d]! * c[v * D + d]!;
      logits[v] = z;
      mx = Math.max(mx, z);
    }
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(logits[v]! - mx);
    let u = rng() * sum;
    let pick = V - 1;
    for (let v = 0; v < V; v++) {
      u -= Math.exp(logits[v]! - mx);
      if (u <= 0) { pick = v; break; }
    }
    targets[i] = pick;
  }
  return { e, c, targets };
}

/** Mean softmax entropy (nats) of the logits e cᵀ, computed on the host in float64. */
export function meanEntropy(d: CceData, N: number, D: number, V: number): number {
  let total = 0;
  const z = new Float64Array(V);
  for (let i = 0; i < N; i++) {
    let mx = -Infinity;
    for (let v = 0; v < V; v++) {
      let s = 0;
      for (let k = 0; k < D; k++) s += d.e[i * D + k]! * d.c[v * D + k]!;
      z[v] = s;
      mx = Math.max(mx, s);
    }
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(z[v]! - mx);
    const lse = mx + Math.log(sum);
    let h = 0;
    for (let v = 0; v < V; v++) {
      const lp = z[v]! - lse;
      h -= Math.exp(lp) * lp;
    }
    total += h;
  }
  return total / N;
}

export function toTensors(d: CceData, N: number, D: number, V: number, backend: Backend): { e: Tensor; c: Tensor; targets: Tensor } {
  return {
    e: C.tensor(d.e, [N, D], { backend }),
    c: C.tensor(d.c, [V, D], { backend }),
    targets: C.tensor(d.targets, [N], { backend, dtype: 'i32' }),
  };
}
