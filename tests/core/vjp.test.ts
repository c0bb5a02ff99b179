// Every differentiable op's VJP against central differences in float64 (gradcheck), at odd shapes.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as C from '@cce/core';
import { builtinOpCases as opCases, hostInput } from '@cce/core';

const s = suite('vjp: gradcheck of every op');
const host = new C.CpuBackend({ precision: 'f64' });

for (const [i, c] of opCases.filter((x) => x.grad ?? true).entries()) {
  s(c.name, async () => {
    const rng = C.mulberry32(500 + i);
    const inputs = c.inputs.map((spec) => C.tensor(hostInput(spec, rng), spec.shape, { dtype: spec.dtype ?? 'f32', backend: host }));
    const result = await C.gradcheck(c.fn, inputs);
    assert.ok(result.checked > 0, 'nothing was checked');
    assert.ok(result.ok, C.formatGradcheck(result));
    inputs.forEach((t) => t.dispose());
  });
}

s('gradcheck detects a wrong VJP', async () => {
  // A fused op whose backward is off by a factor of 2 must fail the check.
  const square = C.defineFusedOp<null>({
    name: 'badSquare',
    forward: ([x]) => ({ output: C.mapElementwise('sq', [x!], 'f32', ([v]) => v!.mul(v!)) }),
    backward: (g, { inputs: [x] }) => [C.mapElementwise('sq_bad', [x!, g], 'f32', ([v, gr]) => v!.mul(gr!).mul(4))],
  });
  const x = C.tensor(hostInput({ shape: [3, 5] }, C.mulberry32(7)), [3, 5], { backend: host });
  const result = await C.gradcheck((t) => square([t], null), [x]);
  assert.not.ok(result.ok, 'a wrong gradient passed');
  assert.ok(result.worst!.error > 1e-3);
});

s('a correct fused op passes', async () => {
  const square = C.defineFusedOp<{ k: number }>({
    name: 'scaledSquare',
    forward: ([x], { k }) => ({ output: C.mapElementwise('ssq', [x!], 'f32', ([v], [sc]) => v!.mul(v!).mul(sc!), [k]) }),
    backward: (g, { inputs: [x], attrs: { k } }) => [C.mapElementwise('ssq_b', [x!, g], 'f32', ([v, gr], [sc]) => v!.mul(gr!).mul(sc!), [2 * k])],
  });
  const x = C.tensor(hostInput({ shape: [3, 5] }, C.mulberry32(8)), [3, 5], { backend: host });
  const result = await C.gradcheck((t) => C.sum(square([t], { k: 1.5 })), [x]);
  assert.ok(result.ok, C.formatGradcheck(result));
});

s.run();
