// How error messages show a value that should have been a tensor (what a rule or a fused op returned).
import { TENSOR_BRAND } from '../memory.js';

/** A value as error messages show it: a tensor by its description, anything else by its kind. */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (typeof v === 'object' && TENSOR_BRAND in v) return String(v);
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'object') return `a ${(v as object).constructor?.name ?? 'object'}`;
  return `the ${typeof v} ${String(v)}`;
}

