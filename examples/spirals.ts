// A synthetic classification task: points on interleaved spiral arms, one class per arm.
import * as C from '@cce/core';

export interface SpiralData {
  x: C.Tensor; // [n, 2] f32
  y: C.Tensor; // [n] i32
}

export function spirals(n: number, classes: number, seed: number, backend?: C.Backend): SpiralData {
  const rng = C.mulberry32(seed);
  const xs = new Float32Array(n * 2);
  const ys = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = i % classes;
    const r = (i / n) * 0.9 + 0.1;
    const angle = (k * 2 * Math.PI) / classes + r * 3.5 + (rng() - 0.5) * 0.3;
    xs[2 * i] = r * Math.cos(angle);
    xs[2 * i + 1] = r * Math.sin(angle);
    ys[i] = k;
  }
  return { x: C.tensor(xs, [n, 2], { backend }), y: C.tensor(ys, [n], { backend }) };
}
