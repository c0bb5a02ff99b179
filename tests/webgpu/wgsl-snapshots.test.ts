// Snapshots of the generated WGSL, so that a change of codegen shows as a diff. The snapshots live in
// tests/webgpu/snapshots/<kernel>.wgsl and are compared exactly; UPDATE_SNAPSHOTS=1 writes them anew.
// These need no adapter: codegen is plain TypeScript.
import { suite } from 'uvu';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kernel } from '@cce/core';
import { generateWgsl } from '@cce/backend-webgpu';
import { TILE_MEDIUM, tiledMatmulKernel, workgroupReduceKernel } from '../../packages/core/src/ops/tuned/index.js';
import { intOpsKernel, reservedNamesKernel, sharedKernel, subgroupKernel, vectorKernel } from './kernels.js';

/** The repository root: the nearest folder above this file (source or bundle) with pnpm-workspace.yaml. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'pnpm-workspace.yaml'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('wgsl snapshots: cannot find the repository root');
    dir = up;
  }
  return dir;
}

const dir = join(repoRoot(), 'tests', 'webgpu', 'snapshots');
const update = process.env.UPDATE_SNAPSHOTS === '1';

const kernels: Kernel[] = [
  intOpsKernel,
  vectorKernel,
  sharedKernel,
  subgroupKernel,
  reservedNamesKernel,
  tiledMatmulKernel(TILE_MEDIUM, { transA: false, transB: true, vecA: false, vecB: false, vecOut: true }),
  workgroupReduceKernel('logsumexp', 'f32', true),
];

function firstDifference(a: string, b: string): string {
  const al = a.split('\n');
  const bl = b.split('\n');
  for (let i = 0; i < Math.max(al.length, bl.length); i++) {
    if (al[i] !== bl[i]) return `line ${i + 1}:\n  snapshot: ${al[i] ?? '(end of file)'}\n  now:      ${bl[i] ?? '(end of file)'}`;
  }
  return 'no difference';
}

const s = suite('wgsl snapshots');
for (const k of kernels) {
  s(k.name, () => {
    const file = join(dir, `${k.name}.wgsl`);
    const now = generateWgsl(k);
    if (update) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(file, now);
      return;
    }
    if (!existsSync(file)) throw new Error(`no snapshot ${file}; run the tests with UPDATE_SNAPSHOTS=1 to write it`);
    const saved = readFileSync(file, 'utf8');
    if (saved !== now) {
      throw new Error(`generated WGSL of '${k.name}' differs from ${file} at ${firstDifference(saved, now)}\n` +
        `(if the change is intended, run the tests with UPDATE_SNAPSHOTS=1 and review the diff)`);
    }
  });
}
s.run();
