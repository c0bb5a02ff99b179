// columnSums (sorting's column sums of e, label smoothing's of c): row groups summed in passes, against
// host sums in f64, at row counts that take one, two and three passes, on the reference and on webgpu.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as C from '@cce/core';
import { columnSums } from '../../packages/cce/src/sort.js';
import { requireBackend, webgpuAvailable } from '../webgpu/support.js';

function sumSuite(name: string, getBackend: () => Promise<C.Backend>) {
  const s = suite(name);
  for (const [V, D] of [[1, 7], [97, 13], [301, 5], [20011, 3]] as const) {
    s(`column sums of [${V}, ${D}]`, async () => {
      const backend = await getBackend();
      const rng = C.mulberry32(V + D);
      const x = Float32Array.from({ length: V * D }, () => rng() * 2 - 1);
      const got = await C.scope(async () => columnSums(C.tensor(x, [V, D], { backend }), V, D, backend).read());
      assert.is(got.length, D);
      for (let d = 0; d < D; d++) {
        let want = 0;
        let mag = 0;
        for (let v = 0; v < V; v++) { want += x[v * D + d]!; mag += Math.abs(x[v * D + d]!); }
        assert.ok(Math.abs(got[d]! - want) <= 1e-6 * mag + 1e-7, `column ${d}: ${got[d]} vs ${want}`);
      }
    });
  }
  s.run();
}

sumSuite('cce: column sums on the reference', async () => new C.CpuBackend({ precision: 'f32' }));
if (await webgpuAvailable('cce sums')) sumSuite('cce: column sums on webgpu', requireBackend);
