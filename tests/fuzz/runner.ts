// Runs the fuzz properties with fast-check: the same code for the CI suite (fuzz.test.ts, fixed seed) and
// the command line (fuzz-cli.ts, `pnpm fuzz`). A failure reports the property, the backend, the seed,
// fast-check's path and the shrunk counterexample, with the command that replays it.
import * as fc from 'fast-check';
import * as C from '@cce/core';
import type { Backend } from '@cce/core';
import { cceProperties } from './cce-properties.js';
import { coreProperties } from './core-properties.js';
import type { AnyProperty, FuzzContext, Limits } from './property.js';

export { CI_LIMITS, type Limits } from './property.js';

/** Every property, CCE first. */
export const properties: AnyProperty[] = [...cceProperties, ...coreProperties];

/** The backends the suite knows how to make. */
export const BACKEND_NAMES = ['cpu', 'webgpu', 'gpujs:webasm', 'gpujs:cpu', 'gpujs:webgpu', 'gpujs:headlessgl'] as const;

/** The backend under test by name: 'cpu' (the f32 interpreter), 'webgpu', 'gpujs:<mode>'. */
export async function createFuzzBackend(name: string): Promise<Backend> {
  if (name === 'cpu' || name === 'cpu:f32') return new C.CpuBackend({ precision: 'f32' });
  if (name === 'webgpu') {
    const { createWebGpuBackend } = await import('@cce/backend-webgpu');
    return createWebGpuBackend();
  }
  if (name.startsWith('gpujs:')) {
    const { createGpujsBackend, isGpujsMode } = await import('@cce/backend-gpujs');
    const mode = name.slice('gpujs:'.length);
    if (!isGpujsMode(mode)) throw new Error(`unknown gpu.js mode '${mode}'`);
    return createGpujsBackend(mode);
  }
  throw new Error(`unknown backend '${name}' (one of ${BACKEND_NAMES.join(', ')})`);
}

export interface RunSettings {
  seed: number;
  runs: number;
  limits: Limits;
  /** fast-check's path of a reported counterexample: replays it (and shrinks on from it). */
  path?: string;
  /** Inputs evaluated while shrinking a failure before the smallest failing one so far is reported. */
  shrinkBudget: number;
}

export interface PropertyOutcome {
  name: string;
  ok: boolean;
  /** Inputs evaluated, shrinking included. */
  evaluated: number;
  ms: number;
  /** On failure: what failed, how to replay it, the counterexample and the error. */
  report?: string;
}

/** The command that replays a failure. */
export function replayCommand(backend: string, property: string, s: RunSettings, path?: string): string {
  const l = s.limits;
  return `pnpm fuzz --backend ${backend} --property ${property} --seed ${s.seed} --runs ${s.runs}${path ? ` --path ${path}` : ''}`
    + ` --max-n ${l.maxN} --max-d ${l.maxD} --max-v ${l.maxV} --max-dim ${l.maxDim}${l.kernelFlags === 'all-or-none' ? ' --flags all-or-none' : ''}`;
}

/**
 * Checks one property on ctx.backend. Shrinking stops after `shrinkBudget` evaluated candidates: the
 * inputs after that are passed over unevaluated, so the report holds the smallest failing input found.
 */
export async function runProperty(p: AnyProperty, ctx: FuzzContext, backendName: string, s: RunSettings, onProgress?: (evaluated: number, failed: boolean) => void): Promise<PropertyOutcome> {
  let evaluated = 0;
  let failed = false;
  let shrinks = 0;
  const started = Date.now();
  const prop = fc.asyncProperty(p.arbitrary(s.limits), async (input: unknown) => {
    if (failed && shrinks++ >= s.shrinkBudget) return;
    evaluated++;
    onProgress?.(evaluated, failed);
    try {
      await p.check(ctx, input);
    } catch (err) {
      failed = true;
      throw err;
    }
  });
  const details = await fc.check(prop, { seed: s.seed, numRuns: s.runs, includeErrorInReport: true, ...(s.path ? { path: s.path } : {}) });
  const ms = Date.now() - started;
  if (!details.failed) return { name: p.name, ok: true, evaluated, ms };
  const budget = failed && shrinks > s.shrinkBudget ? ` (shrinking stopped after ${s.shrinkBudget} candidates)` : '';
  const report = [
    `property ${p.name} failed on ${backendName}${budget}: ${p.about}`,
    `replay: ${replayCommand(backendName, p.name, s, details.counterexamplePath ?? undefined)}`,
    fc.defaultReportMessage(details) ?? '',
  ].join('\n');
  return { name: p.name, ok: false, evaluated, ms, report };
}

export interface SurveyOutcome {
  name: string;
  evaluated: number;
  ms: number;
  /** Failures grouped by the first line of their message with numbers blanked: count and first example. */
  groups: { signature: string; count: number; example: string; input: string }[];
}

/**
 * Checks `runs` inputs drawn with the seed without stopping at a failure or shrinking, and groups the
 * failures by kind: a map of every way a property fails, where runProperty reports the first one.
 */
export async function surveyProperty(p: AnyProperty, ctx: FuzzContext, s: RunSettings, onProgress?: (evaluated: number, failures: number) => void): Promise<SurveyOutcome> {
  const started = Date.now();
  const inputs = fc.sample(p.arbitrary(s.limits), { seed: s.seed, numRuns: s.runs });
  const groups = new Map<string, SurveyOutcome['groups'][number]>();
  let failures = 0;
  for (const [i, input] of inputs.entries()) {
    onProgress?.(i + 1, failures);
    try {
      await p.check(ctx, input);
    } catch (err) {
      failures++;
      const msg = err instanceof Error ? err.message : String(err);
      const signature = msg.split('\n')[0]!.replace(/-?\d+(\.\d+)?(e[-+]?\d+)?/g, '#');
      const g = groups.get(signature);
      if (g) g.count++;
      else groups.set(signature, { signature, count: 1, example: msg, input: fc.stringify(input) });
    }
  }
  return { name: p.name, evaluated: inputs.length, ms: Date.now() - started, groups: [...groups.values()] };
}
