// docs/FUSED_OPS.md must not drift from code that runs: every ts block in it follows a
// `<!-- from examples/... -->` marker and appears verbatim in that file (which tests/examples/fused-op.test.ts
// and tests/cli/gradcheck.test.ts run).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

const s = suite('docs: FUSED_OPS.md');
let root = import.meta.dirname;
while (!existsSync(resolve(root, 'scripts/run-ts.mjs')) && dirname(root) !== root) root = dirname(root);

s('every ts block is an excerpt of the file its marker names', () => {
  const doc = readFileSync(resolve(root, 'docs/FUSED_OPS.md'), 'utf8');
  const blocks = [...doc.matchAll(/(?:<!-- from (\S+) -->\n)?```ts\n([\s\S]*?)\n```/g)];
  assert.ok(blocks.length >= 5, `${blocks.length} ts blocks`);
  for (const [, file, code] of blocks) {
    assert.ok(file, `a ts block has no <!-- from FILE --> marker: ${code!.slice(0, 80)}`);
    const text = readFileSync(resolve(root, file!), 'utf8');
    assert.ok(text.includes(code!), `a block marked ${file} is not in that file: ${code!.slice(0, 120)}`);
  }
});

s.run();
