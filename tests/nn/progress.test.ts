// The training progress line (examples/train-gpt/progress.ts) on a fake stream: on a "terminal" it redraws
// in place with the bar and the step, fits the width, keeps log lines intact, throttles redraws but never
// drops the final step, and done() ends the line; elsewhere it prints exactly the log lines.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createProgress, formatDuration, progressLine } from '../../examples/train-gpt/progress.js';

const s = suite('nn: progress (pnpm train)');

function fakeStream(isTTY: boolean, columns?: number) {
  const chunks: string[] = [];
  return { isTTY, columns, chunks, text: () => chunks.join(''), write(c: string) { chunks.push(c); return true; } };
}
/** A clock the test moves by hand. */
function clock() {
  let t = 1000;
  return { now: () => t, advance: (ms: number) => { t += ms; } };
}
/** What a terminal would show: each line's text after the last \r, with the clear-to-end codes removed. */
const screen = (out: string) => out.split('\n').map((l) => l.slice(l.lastIndexOf('\r') + 1).replace(/\x1b\[K/g, ''));
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x09\x0b-\x1f\x7f]/;

s('formatDuration', () => {
  assert.is(formatDuration(0), '0s');
  assert.is(formatDuration(42), '42s');
  assert.is(formatDuration(59.6), '1m00s');
  assert.is(formatDuration(187), '3m07s');
  assert.is(formatDuration(3720), '1h02m');
  assert.is(formatDuration(3599.7), '1h00m');
  assert.is(formatDuration(90_000), '25h00m');
  assert.is(formatDuration(NaN), '?');
  assert.is(formatDuration(Infinity), '?');
  assert.is(formatDuration(-1), '?');
});

s('on a TTY: \\r, clear-to-end, the bar, the step, loss, tok/s and ETA', () => {
  const out = fakeStream(true, 100);
  const c = clock();
  const p = createProgress({ total: 200, stream: out, now: c.now });
  p.update(50, { loss: 5.23456, tokensPerSecond: 35815, etaSeconds: 187 });
  const t = out.text();
  assert.ok(t.startsWith('\r\x1b[K'), JSON.stringify(t));
  assert.ok(/\[#+\.+\]/.test(t), 'a bar');
  assert.ok(t.includes('step  50/200'));
  assert.ok(t.includes('loss 5.2346'));
  assert.ok(t.includes('35.8K tok/s'));
  assert.ok(t.includes('ETA 3m07s'));
  assert.not.ok(t.includes('\n'), 'redrawn in place, no newline');
  // A quarter done: a quarter of the bar filled.
  const [, hashes, dots] = /\[(#*)(\.*)\]/.exec(t)!;
  assert.is(Math.round((hashes!.length / (hashes!.length + dots!.length)) * 4), 1);
});

s('no drawn line is wider than columns - 1, down to a tiny terminal', () => {
  for (const columns of [120, 80, 50, 30, 12]) {
    const out = fakeStream(true, columns);
    const c = clock();
    const p = createProgress({ total: 100_000, stream: out, now: c.now });
    for (const step of [1, 5000, 100_000]) {
      p.update(step, { loss: 10.123, tokensPerSecond: 1_234_567, etaSeconds: 12_345 });
      c.advance(500);
    }
    p.done();
    for (const l of screen(out.text())) assert.ok(l.length <= columns - 1, `${columns} columns: ${JSON.stringify(l)} (${l.length})`);
  }
  assert.ok(progressLine(3, 10, {}, 80).startsWith('['));
  assert.ok(progressLine(3, 10, { loss: 1 }, 200).length <= 199);
});

s('log lines appear intact between redraws, and the bar comes back after each', () => {
  const out = fakeStream(true, 80);
  const c = clock();
  const p = createProgress({ total: 30, stream: out, now: c.now });
  const logged = ['model: micro (2 layers)', 'step 10/30  loss 3.2100  val 3.3000', 'step 20/30  loss 2.9000  val 3.0000'];
  p.log(logged[0]!);
  for (let step = 1; step <= 30; step++) {
    p.update(step, { loss: 4 - step / 10 });
    if (step % 10 === 0 && step < 30) p.log(logged[step / 10]!);
    c.advance(150);
  }
  p.done();
  const lines = screen(out.text());
  // The permanent lines in order, then the bar's final state on its own line, then nothing.
  assert.equal(lines.slice(0, 3), logged);
  assert.ok(lines[3]!.includes('step 30/30') && lines[3]!.startsWith('[' + '#'.repeat(10)), lines[3]);
  assert.is(lines[4], '');
  assert.is(lines.length, 5);
  assert.ok(out.text().endsWith('\n'), 'done() ends with a newline');
  // Each log line is written whole, after a clear of the bar.
  for (const l of logged) assert.ok(out.chunks.includes(`\r\x1b[K${l}\n`), l);
});

s('not a TTY (isTTY false, or tty: false): exactly the log lines, no control characters', () => {
  for (const [out, tty] of [[fakeStream(false, 80), undefined], [fakeStream(true, 80), false]] as const) {
    const p = createProgress({ total: 20, stream: out, tty });
    p.log('starting');
    for (let step = 1; step <= 20; step++) {
      p.update(step, { loss: 1, tokensPerSecond: 10, etaSeconds: 3 });
      if (step === 10) p.log('step 10/20  loss 1.0000');
    }
    p.done();
    p.log('done');
    assert.is(out.text(), 'starting\nstep 10/20  loss 1.0000\ndone\n');
    assert.not.ok(CONTROL.test(out.text()));
  }
});

s('throttled to ~10 redraws a second, the final step always drawn', () => {
  const out = fakeStream(true, 80);
  const c = clock();
  const p = createProgress({ total: 1000, stream: out, now: c.now });
  // 1000 steps in one second of fake time: about 10 redraws, not 1000.
  for (let step = 1; step <= 1000; step++) {
    p.update(step, { loss: 1 });
    c.advance(1);
  }
  const draws = out.chunks.filter((x) => x.startsWith('\r')).length;
  assert.ok(draws >= 9 && draws <= 12, `${draws} redraws`);
  assert.ok(out.chunks[out.chunks.length - 1]!.includes('step 1000/1000'), 'the final step is drawn at once');

  // A skipped redraw is made up by done(): the line shows the last step given.
  const out2 = fakeStream(true, 80);
  const p2 = createProgress({ total: 1000, stream: out2, now: () => 0 });
  p2.update(1, { loss: 9 });
  p2.update(517, { loss: 3 });
  assert.not.ok(out2.text().includes('517'), 'throttled');
  p2.done();
  assert.ok(screen(out2.text())[0]!.includes('step  517/1000'));
  assert.ok(out2.text().endsWith('\n'));
});

s('a TTY stream without columns falls back to 80; done() before any update prints nothing', () => {
  const out = fakeStream(true);
  const p = createProgress({ total: 10, stream: out, now: () => 0 });
  p.done();
  assert.is(out.text(), '');
  const out2 = fakeStream(true);
  const p2 = createProgress({ total: 10, stream: out2, now: () => 0 });
  p2.update(10, { etaSeconds: NaN });
  assert.ok(out2.text().includes('ETA ?'));
  assert.ok(screen(out2.text())[0]!.length <= 79);
  assert.ok(screen(out2.text())[0]!.length > 60, 'the bar fills the width');
});

s.run();
