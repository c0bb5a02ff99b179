// Mode selection: the default is the best available mode, reported in one line; a software WebGPU
// adapter ranks after 'webasm'; modes can be forced by name.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as C from '@cce/core';
import { GPUJS_MODES, chooseMode, probeMode } from '@cce/backend-gpujs';

const s = suite('gpujs mode selection');

s('the default is the first available mode in preference order, with the skipped ones named', async () => {
  const probes = await Promise.all(GPUJS_MODES.map((m) => probeMode(m)));
  const webgpu = probes[0]!;
  const choice = await chooseMode();
  assert.ok(choice.probe.available);
  if (webgpu.available && !webgpu.adapter?.software) {
    assert.is(choice.probe.mode, 'webgpu');
  } else {
    // no adapter, or a software one (lavapipe): webasm here (headless-gl's addon is not built)
    if (!probes[1]!.available) assert.is(choice.probe.mode, 'webasm');
    assert.match(choice.report, webgpu.available ? /skipped webgpu: .* is a software adapter \(ranked after webasm\)/ : /skipped webgpu: /);
  }
  assert.match(choice.report, new RegExp(`^mode '${choice.probe.mode}' \\(auto\\): `));
});

s("'gpujs' through the registry starts the default mode and logs one line", async () => {
  const lines: string[] = [];
  const b = await C.useBackend('gpujs', { log: (l) => lines.push(l) });
  try {
    const choice = await chooseMode();
    assert.is(b.name, `gpujs:${choice.probe.mode}`);
    assert.is(lines.length, 1);
    assert.match(lines[0]!, new RegExp(`^backend: gpujs:${choice.probe.mode} \\(.+\\) — as requested$`));
    assert.not.match(lines[0]!, /\n/);
  } finally {
    C.setBackend(null);
    b.destroy();
  }
});

s('a forced mode is used as named', async () => {
  const choice = await chooseMode('cpu');
  assert.is(choice.probe.mode, 'cpu');
  assert.match(choice.report, /^mode 'cpu' \(requested\): JavaScript$/);
});

s.run();
