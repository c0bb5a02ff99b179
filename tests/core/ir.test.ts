// The IR: the validator rejects ill-typed or ill-formed kernels naming the node; hashing is structural.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as C from '@cce/core';
import { defineKernel, f32, i32 } from '@cce/core';

const s = suite('ir');

const rejects = (kernel: () => C.Kernel, pattern: RegExp) => {
  try {
    C.validateKernel(kernel());
  } catch (e) {
    assert.instance(e, C.KernelValidationError);
    assert.match((e as Error).message, pattern);
    return;
  }
  assert.unreachable(`accepted a kernel that should fail with ${pattern}`);
};

s('mixed operand types are rejected, naming the node', () => {
  rejects(() => defineKernel('mix', { workgroupSize: 1 }, (b) => {
    const out = b.output('out', 'f32');
    out.store(0, new C.Ex({ k: 'binary', op: '+', a: f32(1).node, b: i32(1).node }, 'f32'));
  }), /kernel 'mix': operand types differ: f32 \+ i32 \(at \{"k":"binary"/);
});

s('stores to read-only buffers are rejected', () => {
  rejects(() => defineKernel('ro', { workgroupSize: 1 }, (b) => {
    const x = b.input('x', 'f32');
    x.store(0, f32(1));
  }), /store to read-only buffer 'x'/);
});

s('unknown buffers, uniforms and variables are rejected', () => {
  const base = defineKernel('k', { workgroupSize: 1 }, (b) => { b.output('out', 'f32').store(0, f32(0)); });
  rejects(() => ({ ...base, body: [{ k: 'store', buf: 'nope', index: i32(0).node, value: f32(0).node }] }), /unknown buffer 'nope'/);
  rejects(() => ({ ...base, body: [{ k: 'store', buf: 'out', index: { k: 'uniform', name: 'n' }, value: f32(0).node }] }), /unknown uniform 'n'/);
  rejects(() => ({ ...base, body: [{ k: 'assign', name: 'x', value: f32(0).node }] }), /assignment to 'x', which is not a var/);
});

s('stored values must match the buffer type', () => {
  rejects(() => defineKernel('st', { workgroupSize: 1 }, (b) => {
    const out = b.output('out', 'f32');
    out.store(0, i32(1) as unknown as C.Ex);
  }), /storing i32 into buffer 'out' of f32/);
});

s('float functions on integers and non-bool conditions are rejected', () => {
  rejects(() => defineKernel('fexp', { workgroupSize: 1 }, (b) => { b.output('out', 'i32').store(0, i32(2).exp()); }), /'exp' needs f32, got i32/);
  rejects(() => defineKernel('cond', { workgroupSize: 1 }, (b) => { b.if(i32(1), () => b.return()); }), /if condition must be bool/);
});

s('subgroup broadcast needs a constant lane; workgroup size must be positive', () => {
  rejects(() => defineKernel('bc', { workgroupSize: 32 }, (b) => {
    const out = b.output('out', 'f32');
    out.store(0, b.subgroup('broadcast', f32(1), b.localIndex()));
  }), /subgroup broadcast lane must be a constant/);
  rejects(() => defineKernel('wg', { workgroupSize: 0 }, () => {}), /workgroup size must be 3 positive integers/);
});

s('validation reports the capabilities a kernel needs', () => {
  const k = defineKernel('caps', { workgroupSize: 32 }, (b) => {
    const t = b.workgroupArray('t', 'f32', 32);
    t.store(b.localIndex(), b.subgroupAdd(f32(1)));
    b.barrier();
  });
  const info = C.validateKernel(k);
  assert.ok(info.requires.has('workgroupMemory'));
  assert.ok(info.requires.has('subgroups'));
});

s('a backend refuses a kernel needing a capability it lacks', () => {
  const k = defineKernel('needs_sg', { workgroupSize: 32 }, (b) => { b.output('out', 'f32').store(0, b.subgroupAdd(f32(1))); });
  const cpu = new C.CpuBackend();
  (cpu.capabilities.features as Set<string>).delete('subgroups');
  assert.throws(() => cpu.compile(k), /kernel 'needs_sg' needs 'subgroups', which this backend lacks/);
});

s('hash: same structure, same key; a different constant, a different key', () => {
  const make = (c: number) => defineKernel('h', { workgroupSize: 64 }, (b) => {
    const out = b.output('out', 'f32');
    out.store(b.globalId(0), f32(c));
  });
  assert.is(C.kernelHash(make(1)), C.kernelHash(make(1)));
  assert.is.not(C.kernelHash(make(1)), C.kernelHash(make(2)));
  assert.is(C.canonicalJson({ b: 1, a: [2, { d: 3, c: 4 }] }), '{"a":[2,{"c":4,"d":3}],"b":1}');
});

s('one compiled kernel serves many shapes (sizes are uniforms)', async () => {
  const cpu = new C.CpuBackend();
  C.setBackend(cpu);
  const before = C.exp(C.randn([3, 5], { seed: 1, backend: cpu }));
  const kernelsAfterFirst = (cpu as unknown as { cache: Map<string, unknown> }).cache.size;
  C.exp(C.randn([7, 11], { seed: 2, backend: cpu }));
  assert.is((cpu as unknown as { cache: Map<string, unknown> }).cache.size, kernelsAfterFirst);
  before.dispose();
});

s.run();
