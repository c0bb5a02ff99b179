// The fuzz properties (tests/fuzz/*-properties.ts) with CI's settings: a fixed seed, small sizes, and
// a number of runs per backend that keeps the whole suite near a minute on a 2-core machine. To explore
// further: `pnpm fuzz --seed S --runs K [--backend B]` runs the same properties.
import { suite } from 'uvu';
import * as C from '@cce/core';
import type { Backend } from '@cce/core';
import { createGpujsBackend } from '@cce/backend-gpujs';
import { requireBackend, webgpuAvailable } from '../webgpu/support.js';
import { CI_LIMITS, type Limits, type RunSettings, properties, runProperty } from './runner.js';

export const CI_SEED = 0x5eed_f022;

/** Runs per property on each backend. */
const CI_RUNS: Record<string, number> = { cpu: 30, webgpu: 30, 'gpujs:webasm': 30 };

/**
 * Limits per backend. On webgpu the CCE options that select kernel code are all on or the bias alone:
 * each combination compiles its own tiled kernels, 5-10 s each on a cold lavapipe.
 */
const CI_BACKEND_LIMITS: Record<string, Limits> = {
  cpu: CI_LIMITS,
  webgpu: { ...CI_LIMITS, kernelFlags: 'all-or-none' },
  'gpujs:webasm': CI_LIMITS,
};

function fuzzSuite(name: string, makeBackend: () => Promise<Backend>) {
  const s = suite(`fuzz: ${name}`);
  let backend: Backend;
  const truth = new C.CpuBackend({ precision: 'f64' });
  s.before(async () => {
    backend = await makeBackend();
  });
  const settings: RunSettings = { seed: CI_SEED, runs: CI_RUNS[name]!, limits: CI_BACKEND_LIMITS[name]!, shrinkBudget: 60 };
  for (const p of properties) {
    s(`${p.name}: ${p.about}`, async () => {
      const out = await runProperty(p, { backend, truth }, name, settings);
      if (!out.ok) {
        const err = new Error(out.report);
        err.stack = `Error: ${p.name}`; // the report says it all; a stack of the runner would not
        throw err;
      }
    });
  }
  s.run();
}

fuzzSuite('cpu', async () => new C.CpuBackend({ precision: 'f32' }));
if (await webgpuAvailable('fuzz')) fuzzSuite('webgpu', requireBackend);
fuzzSuite('gpujs:webasm', () => createGpujsBackend('webasm'));
