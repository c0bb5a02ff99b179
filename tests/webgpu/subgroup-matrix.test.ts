// Subgroup matrices on WebGPU: the WGSL of the naive subgroup-matrix matmul (a snapshot, in
// tests/webgpu/snapshots, written anew with UPDATE_SNAPSHOTS=1), which Dawn parses (on an adapter
// without the feature its only complaint is the extension); the refusal where the adapter has no subgroup
// matrices (lavapipe, CI) naming the kernel, the capability and the feature; and, where it has them, the
// matmul of every offered configuration against the CPU reference at odd multiples of the tile.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as C from '@cce/core';
import { SUBGROUP_MATRIX, generateWgsl } from '@cce/backend-webgpu';
import { requireBackend, webgpuAvailable } from './support.js';

function snapshotDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'pnpm-workspace.yaml'))) dir = dirname(dir);
  return join(dir, 'tests', 'webgpu', 'snapshots');
}

const config = { M: 16, N: 16, K: 16, component: 'f16', result: 'f32' } as const;
const kernel = C.subgroupMatmulKernel({ config, tilesM: 2, tilesN: 2, subgroups: 2, subgroupSize: 32 });

const s = suite('subgroup matrices: WGSL');
s('the naive matmul lowers to the extension (snapshot)', () => {
  const wgsl = generateWgsl(kernel);
  const file = join(snapshotDir(), `${kernel.name}.wgsl`);
  if (process.env.UPDATE_SNAPSHOTS === '1') writeFileSync(file, wgsl);
  assert.ok(existsSync(file), `no snapshot ${file}; run with UPDATE_SNAPSHOTS=1`);
  assert.fixture(wgsl, readFileSync(file, 'utf8'));
  for (const line of ['enable f16;', 'enable chromium_experimental_subgroup_matrix;', 'diagnostic(off, chromium.subgroup_matrix_uniformity);',
    'subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&a, ', 'subgroupMatrixMultiplyAccumulate(', 'subgroupMatrixStore<row_major>(&c, ']) {
    assert.ok(wgsl.includes(line), `WGSL lacks '${line}'`);
  }
});
s.run();

if (await webgpuAvailable('subgroup matrices')) {
  const g = suite('subgroup matrices on webgpu');
  let gpu: Awaited<ReturnType<typeof requireBackend>>;
  g.before(async () => {
    gpu = await requireBackend();
  });

  g('Dawn parses the lowering: without the feature, its one error is the extension', async () => {
    if (gpu.report.features.includes(SUBGROUP_MATRIX)) return;
    // In an error scope of its own, so that the expected error does not reach the backend's uncaptured
    // errors (which the next read would throw).
    gpu.device.pushErrorScope('validation');
    const module = gpu.device.createShaderModule({ code: generateWgsl(kernel) });
    const errors = (await module.getCompilationInfo()).messages.filter((m) => m.type === 'error');
    assert.ok(await gpu.device.popErrorScope(), 'the module is invalid');
    assert.is(errors.length, 1, errors.map((m) => m.message).join('\n'));
    assert.match(errors[0]!.message, /chromium_experimental_subgroup_matrix/);
  });

  g('without subgroup matrices the kernel and the op are refused naming the capability', () => {
    if (gpu.capabilities.features.has('subgroupMatrix')) return;
    assert.throws(() => gpu.compile(kernel), new RegExp(`webgpu: kernel '${kernel.name}' needs 'subgroupMatrix', which this backend lacks \\(subgroup matrices: WebGPU feature ${SUBGROUP_MATRIX}\\)`));
    const a = C.zeros([64, 16], { dtype: 'f16', backend: gpu });
    assert.throws(() => C.subgroupMatrixMatmul(a, C.zeros([16, 32], { dtype: 'f16', backend: gpu })), /subgroupMatrixMatmul: backend 'webgpu' has no subgroup matrices/);
  });

  g('with subgroup matrices every offered configuration matches the reference', async () => {
    const offered = gpu.capabilities.subgroupMatrixConfigs ?? [];
    if (!offered.length) {
      console.log(`  (the adapter offers no subgroup matrices: ${gpu.report.name})`);
      return;
    }
    const sg = gpu.capabilities.subgroupMaxSize!;
    const ref = new C.CpuBackend({ subgroupSize: sg, subgroupMatrixConfigs: offered });
    for (const c of offered) {
      const M = c.M * 3;
      const N = c.N * 5;
      const K = c.K * 3;
      const rng = C.mulberry32(c.M * 100 + c.N * 10 + c.K);
      const a = Array.from({ length: M * K }, () => rng() * 2 - 1);
      const b = Array.from({ length: K * N }, () => rng() * 2 - 1);
      const on = (be: C.Backend) => C.subgroupMatrixMatmul(C.tensor(a, [M, K], { dtype: c.component, backend: be }), C.tensor(b, [K, N], { dtype: c.component, backend: be }), { config: c }).read();
      const want = await on(ref);
      const got = await on(gpu);
      const tol = c.result === 'f16' ? 2 ** -6 : 2 ** -12;
      got.forEach((x, i) => assert.ok(Math.abs(x - want[i]!) <= tol * (1 + Math.abs(want[i]!)), `${C.formatMatrixConfig(c)}: element ${i} ${x} vs ${want[i]}`));
    }
  });
  g.run();
}
