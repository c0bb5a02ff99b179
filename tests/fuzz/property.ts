// What a fuzz property is: an arbitrary of inputs drawn within size limits, and a check of one input on
// the backend under test against the float64 reference interpreter (the truth).
import type * as fc from 'fast-check';
import * as C from '@cce/core';
import type { Backend } from '@cce/core';

/** Size limits of the drawn inputs. */
export interface Limits {
  /** Tokens of a CCE case (and rows of crossEntropy). */
  maxN: number;
  /** Feature dimension of a CCE case. */
  maxD: number;
  /** Vocabulary of a CCE case (and classes of crossEntropy). */
  maxV: number;
  /** Largest dimension of a core op's tensors (matmul M, K, N; elementwise and reduction dims). */
  maxDim: number;
  /**
   * 'all-or-none': the CCE options that select kernel code (bias, softcap, labelSmoothing, zLoss) are
   * all on, or the bias alone (their values still vary), which bounds the shaders a backend compiles: a
   * cold lavapipe spends 5-10 s on each of the CCE's tiled kernels. 'any' (default): each on its own.
   */
  kernelFlags?: 'any' | 'all-or-none';
}

export const CI_LIMITS: Limits = { maxN: 40, maxD: 16, maxV: 130, maxDim: 9 };

export interface FuzzContext {
  /** The backend under test. */
  backend: Backend;
  /** The float64 reference interpreter. */
  truth: Backend;
}

export interface FuzzProperty<T = unknown> {
  /** Short stable name, e.g. 'cce.criterion'; selects the property on the command line. */
  name: string;
  /** One line: what must hold. */
  about: string;
  arbitrary(limits: Limits): fc.Arbitrary<T>;
  /** Resolves when the property holds for `input`, throws (saying what differs) when it does not. */
  check(ctx: FuzzContext, input: T): Promise<void>;
}

/** A property with its input type erased, for lists. */
export type AnyProperty = FuzzProperty<any>;

export const defineProperty = <T>(p: FuzzProperty<T>): AnyProperty => p as AnyProperty;

/**
 * Runs `fn` with core's portable map kernels for matmul and row reductions. The truth (and the naive
 * path that gives the CCE criterion its slack) is computed this way whatever the backend prefers: the
 * simplest kernels make the most independent truth, and the code under test runs its own defaults.
 */
export function withMapKernels<T>(fn: () => Promise<T>): Promise<T> {
  return C.withVariant('matmul', 'map', () => C.withVariant('reduceRows', 'map', fn));
}
