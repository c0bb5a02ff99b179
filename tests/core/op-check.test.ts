// The op checker's comparison: the tolerance scales with the finite reference values; NaN must meet
// NaN and an infinity the same infinity, anything else non-finite is an infinite error.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as C from '@cce/core';

const s = suite('core: op check comparison');

s('non-finite reference values are matched exactly, and do not widen the tolerance', () => {
  const ok = (got: number[], want: number[]) => C.compareToReference(got, want).ok;
  assert.ok(ok([NaN, 1], [NaN, 1]));
  assert.ok(ok([Infinity, -Infinity, 2], [Infinity, -Infinity, 2]));
  assert.not.ok(ok([Infinity, 5], [Infinity, 1]), 'an infinity in the reference must not make every error tolerable');
  assert.not.ok(ok([NaN, 1], [Infinity, 1]));
  assert.not.ok(ok([-Infinity, 1], [Infinity, 1]));
  assert.not.ok(ok([1, 1], [NaN, 1]));
  assert.not.ok(ok([NaN, 1], [0, 1]));
  assert.ok(ok([], []));
  const r = C.compareToReference([1, 2.5], [1, 2]);
  assert.not.ok(r.ok);
  assert.match(r.detail, /^element 1: 2\.5 vs reference 2/);
  assert.ok(C.compareToReference([1 + 1e-7, 2], [1, 2]).ok);
});

s.run();
