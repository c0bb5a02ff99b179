// `pnpm kernels`: the kernels a registered op dispatches, each as IR pseudo-code, WGSL and gpu.js source.
// The op runs (forward, then backward of a random output gradient) on inputs drawn by its own generator on
// the chosen backend, which picks its variants (--variant forces one); every kernel dispatched is shown once.
// Usage: pnpm kernels -- --op NAME [--backend B] [--variant FAMILY=NAME] [--forward-only] [--import FILE]
// (--import files are bundled with this module by examples/kernels.ts; here the flag is only listed.)
import * as C from '@cce/core';
import '@cce/cce'; // registers CCE's op cases
import '@cce/nn'; // registers causalAttention's
import { generateWgsl } from '@cce/backend-webgpu';
import { LoweringError, lowerMapKernel } from '@cce/backend-gpujs';
import { loadBackends } from '../backends.js';
import { importFlag } from '../with-imports.js';

const args = await C.parseCli({
  command: 'pnpm kernels',
  summary: "Print every kernel a registered op dispatches (forward and backward) on a backend: the IR as pseudo-code, the WGSL " +
    "WebGPU compiles and the gpu.js function (map kernels only), on inputs the op's own generator draws.",
  flags: {
    op: { type: 'string', placeholder: 'NAME', description: 'the op (its registered name, or a unique part of it; `pnpm gradcheck` lists them)' },
    backend: { ...C.commonFlags.backend, default: undefined, env: undefined, defaultText: 'cpu (the reference picks map variants; webgpu its tuned ones)' },
    variant: { type: 'string', placeholder: 'FAMILY=NAME', description: 'force one variant of an op family, e.g. matmul=tiled-64x64 or reduceRows=map (a wrong name lists the valid ones)' },
    'forward-only': { type: 'boolean', description: 'only the forward kernels' },
    import: importFlag,
    verbose: C.commonFlags.verbose,
  },
  notes: ['examples:\n  pnpm kernels -- --op "layerNorm affine"\n  pnpm kernels -- --op "matmul transB" --backend webgpu\n  pnpm kernels -- --op "matmul tiled size" --backend webgpu --variant matmul=tiled-128x128\n  pnpm kernels -- --import examples/fused-op/register.ts --op "rmsNorm workgroup" --backend webgpu'],
});
if (args.op === undefined) C.exitWithError('--op is required (pnpm gradcheck lists the registered ops)');
const all = C.registeredOps();
const exact = all.find((o) => o.name === args.op);
const matches = exact ? [exact] : all.filter((o) => o.name.includes(args.op!));
if (matches.length !== 1) {
  C.exitWithError(matches.length ? `--op ${args.op} matches ${matches.length} ops: ${matches.map((o) => `'${o.name}'`).join(', ')}` : `--op ${args.op}: no registered op matches`);
}
const op = matches[0]!;

await loadBackends();
const backend = await C.cliBackend(args.backend ?? 'cpu', { log: C.cliLog(true), verbose: args.verbose });
const seen = new Map<string, C.Kernel>();
const dispatch = backend.dispatch.bind(backend);
backend.dispatch = (exe, bindings, grid) => {
  const k = exe.kernel;
  seen.set(C.kernelHash(k), k);
  dispatch(exe, bindings, grid);
};

const rng = C.mulberry32(1);
const data = op.inputs.map((spec) => C.hostInput(spec, rng));
const run = async () => {
  const out = await C.runOpCase(backend, op, data, null);
  if (!args['forward-only'] && op.grad !== false) await C.runOpCase(backend, op, data, Float64Array.from({ length: out.output.length }, () => rng() * 2 - 1));
};
try {
  if (args.variant) {
    const [family, name] = args.variant.split('=');
    if (!family || !name) C.exitWithError(`--variant: expected FAMILY=NAME, got '${args.variant}'`);
    if (!C.variantsOf(family!).includes(name!)) C.exitWithError(`--variant: '${family}' has variants ${C.variantsOf(family!).join(', ') || '(none)'}`);
    await C.withVariant(family!, name!, run);
  } else {
    await run();
  }
} catch (e) {
  C.exitWithError(`${op.name} on ${backend.name}: ${(e as Error).message.split('\n')[0]}`, 1);
}
backend.destroy();

const rule = (title: string) => `--- ${title} ${'-'.repeat(Math.max(3, 96 - title.length))}`;
process.stdout.write(`${op.name} on ${backend.name}: ${seen.size} kernel${seen.size === 1 ? '' : 's'} (inputs ${op.inputs.map((s) => `[${s.shape}]`).join(' ')})\n\n`);
for (const k of seen.values()) {
  const info = C.validateKernel(k);
  let gpujs: string;
  try {
    gpujs = k.map ? lowerMapKernel(k, info, { roundF32: false, exactDivision: true }).source : '(not a map kernel: gpu.js runs this op\'s map variant instead)';
  } catch (e) {
    gpujs = e instanceof LoweringError ? `(gpu.js cannot run it: ${e.message})` : `(lowering failed: ${(e as Error).message})`;
  }
  process.stdout.write([rule(`${k.name}: IR`), C.printKernel(k), rule(`${k.name}: WGSL`), generateWgsl(k, info).trimEnd(), rule(`${k.name}: gpu.js`), gpujs, ''].join('\n'));
  process.stdout.write('\n');
}
