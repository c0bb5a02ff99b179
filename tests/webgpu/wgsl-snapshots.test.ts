// Snapshots of the generated WGSL, so that a change of codegen shows as a diff. The snapshots live in
// tests/webgpu/snapshots/<kernel>.wgsl and are compared exactly; UPDATE_SNAPSHOTS=1 writes them anew.
// These need no adapter: codegen is plain TypeScript.
import { suite } from 'uvu';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kernel } from '@cce/core';
import { generateWgsl } from '@cce/backend-webgpu';
import { TILE_MEDIUM, tiledMatmulKernel, workgroupReduceKernel } from '../../packages/core/src/ops/tuned/index.js';
import { FRAGMENT_TILE, fragmentMatmulKernel, subgroupMatmulKernel } from '../../packages/core/src/index.js';
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

const H200_MATRIX = { M: 16, N: 16, K: 16, component: 'f16', result: 'f32' } as const;
const kernels: Kernel[] = [
  intOpsKernel,
  vectorKernel,
  sharedKernel,
  subgroupKernel,
  reservedNamesKernel,
  tiledMatmulKernel(TILE_MEDIUM, { transA: false, transB: true, vecA: false, vecB: false, vecOut: true }),
  workgroupReduceKernel('logsumexp', 'f32', true),
  // Tensor cores as on the H200 (subgroups of 32, 16x16x16 f16 -> f32): the naive kernel and core's f16
  // matmul tile with vec4 loads and whole-fragment stores.
  subgroupMatmulKernel({ config: H200_MATRIX, tilesM: 2, tilesN: 2, subgroups: 2, subgroupSize: 32 }),
  fragmentMatmulKernel({ ...FRAGMENT_TILE, matrix: H200_MATRIX, subgroupSize: 32 }, { transA: false, transB: true, vecA: true, vecB: true, direct: true }, 'f32'),
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
s('every snapshot file belongs to a kernel above', () => {
  const names = new Set(kernels.map((k) => `${k.name}.wgsl`));
  const stale = readdirSync(dir).filter((f) => f.endsWith('.wgsl') && !names.has(f));
  if (stale.length) throw new Error(`snapshots of no listed kernel (remove them or list their kernels): ${stale.join(', ')}`);
});
s.run();
