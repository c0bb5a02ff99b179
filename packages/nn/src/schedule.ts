// Learning-rate schedules: pure functions of the step, so a resumed run needs only the step to continue.

export interface CosineSchedule {
  /** Steps of linear warmup from 0 to maxLr (0: none). */
  warmupSteps: number;
  /** The schedule's length: the step at which the cosine reaches minLr (it stays there after). */
  totalSteps: number;
  maxLr: number;
  minLr: number;
}

function check(s: CosineSchedule): void {
  const { warmupSteps: w, totalSteps: n, maxLr, minLr } = s;
  if (!Number.isInteger(w) || w < 0) throw new Error(`lrAt: warmupSteps must be a non-negative integer, got ${w}`);
  if (!Number.isInteger(n) || n < w) throw new Error(`lrAt: totalSteps must be an integer >= warmupSteps (${w}), got ${n}`);
  if (!(Number.isFinite(maxLr) && Number.isFinite(minLr) && minLr >= 0 && maxLr >= minLr)) {
    throw new Error(`lrAt: need finite 0 <= minLr <= maxLr, got minLr ${minLr}, maxLr ${maxLr}`);
  }
}

/**
 * The learning rate for the optimizer step `step` (0-based): linear warmup maxLr * (step + 1) / warmupSteps
 * for step < warmupSteps (nanoGPT's form, so the first step is not wasted at lr 0), then cosine decay
 * minLr + (maxLr - minLr) * (1 + cos(pi * t)) / 2 with t = (step - warmupSteps) / (totalSteps - warmupSteps),
 * and minLr from totalSteps on.
 */
export function lrAt(step: number, s: CosineSchedule): number {
  check(s);
  if (!Number.isInteger(step) || step < 0) throw new Error(`lrAt: step must be a non-negative integer, got ${step}`);
  const { warmupSteps: w, totalSteps: n, maxLr, minLr } = s;
  if (step < w) return (maxLr * (step + 1)) / w;
  if (step >= n) return minLr;
  const t = (step - w) / (n - w);
  return minLr + ((maxLr - minLr) * (1 + Math.cos(Math.PI * t))) / 2;
}
