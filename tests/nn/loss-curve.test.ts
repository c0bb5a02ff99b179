// The loss-curve SVG (examples/train-gpt/loss-curve.ts): well-formed markup (a small tag-balance check),
// one polyline per unbroken run of finite points, coordinates inside the plot area, x growing with the step
// and y falling as the value grows, escaped names, NaN gaps, and valid drawings for no data and one point.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { lossCurveSvg, niceTicks, trainingCurveSvg, type CurveSeries } from '../../examples/train-gpt/loss-curve.js';

const s = suite('nn: loss-curve SVG');

/** Throws unless every tag is closed in order, attributes are quoted and text has no bare '<' or '&'. */
function checkWellFormed(svg: string): void {
  const stack: string[] = [];
  const tag = /<(\/?)([a-zA-Z][\w-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/y;
  let i = 0;
  while (i < svg.length) {
    const lt = svg.indexOf('<', i);
    const text = svg.slice(i, lt < 0 ? svg.length : lt);
    // Only the five predefined entities (the file declares no others).
    if (/&(?!(amp|lt|gt|quot|apos);)/.test(text)) throw new Error(`bare '&' in text ${JSON.stringify(text)}`);
    if (lt < 0) break;
    tag.lastIndex = lt;
    const m = tag.exec(svg);
    if (!m) throw new Error(`malformed tag at ${lt}: ${JSON.stringify(svg.slice(lt, lt + 60))}`);
    const [, close, name, , selfClose] = m;
    if (close) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}>`);
    } else if (!selfClose) stack.push(name!);
    i = lt + m[0].length;
  }
  if (stack.length) throw new Error(`unclosed: ${stack.join(', ')}`);
  if (!svg.trimStart().startsWith('<svg ') || stack.length) throw new Error('not one <svg> element');
}

/** The plot area: the one <rect> drawn with fill="none". */
function plotArea(svg: string) {
  const m = /<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)" fill="none"/.exec(svg);
  assert.ok(m, 'a plot frame');
  const [x, y, w, h] = m!.slice(1).map(Number) as [number, number, number, number];
  return { left: x, top: y, right: x + w, bottom: y + h };
}

const polylines = (svg: string) => [...svg.matchAll(/<polyline points="([^"]*)"/g)].map((m) => m[1]!.split(' ').map((p) => p.split(',').map(Number) as [number, number]));
const circles = (svg: string) => [...svg.matchAll(/<circle cx="([-\d.]+)" cy="([-\d.]+)"/g)].map((m) => [Number(m[1]), Number(m[2])] as [number, number]);
const line = (name: string, values: number[], step0 = 1, dstep = 10): CurveSeries =>
  ({ name, points: values.map((value, i) => ({ step: step0 + i * dstep, value })) });

s('the tag-balance check itself refuses broken markup', () => {
  assert.throws(() => checkWellFormed('<svg a="1"><g></svg>'));
  assert.throws(() => checkWellFormed('<svg a="1"><text>a<b</text></svg>'));
  assert.throws(() => checkWellFormed('<svg a="1"><text>a & b</text></svg>'));
  assert.throws(() => checkWellFormed('<svg a="1"><text x="a"b">t</text></svg>'));
  checkWellFormed('<svg a="1"><g><line x="1"/></g><text>a &amp; b</text></svg>');
});

s('one polyline per series with two or more finite points, all inside the plot area', () => {
  const series = [line('train', [10, 8, 6.5, 5.9, 5.2, 4.8]), line('validation', [9, 7]), line('lone', [5]), line('empty', [])];
  const svg = lossCurveSvg(series, { title: 'run', width: 700, height: 400 });
  checkWellFormed(svg);
  assert.ok(svg.includes('width="700"') && svg.includes('height="400"'));
  const lines = polylines(svg);
  assert.is(lines.length, 2);
  assert.equal(lines.map((l) => l.length), [6, 2]);
  const a = plotArea(svg);
  for (const [x, y] of [...lines.flat(), ...circles(svg)]) {
    assert.ok(x >= a.left && x <= a.right && y >= a.top && y <= a.bottom, `(${x}, ${y}) outside ${JSON.stringify(a)}`);
  }
  // Every series is named in the legend; no scripts, no external resources.
  for (const n of ['train', 'validation', 'lone', 'empty']) assert.ok(svg.includes(`>${n}</text>`), n);
  assert.not.ok(/<script|href=|@import|url\(/.test(svg));
  // Sparse series get dots: 6 + 2 + 1.
  assert.is(circles(svg).length, 9);
});

s('larger step => larger x; larger value => smaller y; endpoints reach the plot edges in x', () => {
  const svg = lossCurveSvg([{ name: 'zigzag', points: [1, 2, 3, 4, 5, 6].map((step) => ({ step: step * 100, value: step % 2 ? 3 + step : 1 })) }]);
  const [pts] = polylines(svg) as [[number, number][]];
  const a = plotArea(svg);
  for (let i = 1; i < pts.length; i++) assert.ok(pts[i]![0] > pts[i - 1]![0], `x at ${i}`);
  assert.is(pts[0]![0], a.left);
  assert.is(pts[pts.length - 1]![0], a.right);
  // Values 4, 1, 6, 1, 8, 1: the larger value is drawn higher (smaller y); equal values at equal y.
  const [y4, y1, y6, y1b, y8] = pts.map((p) => p[1]);
  assert.ok(y4! < y1! && y6! < y4! && y8! < y6!);
  assert.is(y1, y1b);
});

s('ticks are 1-2-5 multiples inside the range', () => {
  assert.equal(niceTicks(1, 2000), [500, 1000, 1500, 2000]);
  assert.equal(niceTicks(0, 1, 5).map((v) => Number(v.toFixed(9))), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  const t = niceTicks(3.7, 10.9);
  assert.ok(t.length >= 3 && t[0]! >= 3.7 && t[t.length - 1]! <= 10.9);
  const d = t[1]! - t[0]!;
  assert.ok([1, 2, 5].some((k) => Math.abs(d - k) < 1e-9 || Math.abs(d - k / 10) < 1e-9), `step ${d}`);
});

s('text is escaped: a series named a<b&"c" and the title', () => {
  const svg = lossCurveSvg([line('a<b&"c"', [1, 2])], { title: 'x > y & "z"', xLabel: '<step>' });
  checkWellFormed(svg);
  assert.ok(svg.includes('a&lt;b&amp;&quot;c&quot;'));
  assert.ok(svg.includes('x &gt; y &amp; &quot;z&quot;'));
  assert.ok(svg.includes('&lt;step&gt;'));
  assert.not.ok(svg.includes('a<b'));
});

s('a NaN (or infinity) in the middle splits the line in two; the y-range ignores it', () => {
  const svg = lossCurveSvg([line('gappy', [5, 4, 3, NaN, 2.5, 2, Infinity, 1.9])]);
  checkWellFormed(svg);
  assert.not.ok(/NaN|Infinity/.test(svg));
  const lines = polylines(svg);
  // [5 4 3] | [2.5 2] | [1.9]: two polylines and a lone point (dotted, as the series is sparse).
  assert.equal(lines.map((l) => l.length), [3, 2]);
  assert.is(circles(svg).length, 6);
  const a = plotArea(svg);
  for (const [, y] of circles(svg)) assert.ok(y > a.top && y < a.bottom, 'padded y-range from finite values');
});

s('no series, or only empty or non-finite ones: a valid SVG saying "no data yet"', () => {
  for (const input of [[], [line('train', [])], [line('train', [NaN, NaN])]]) {
    const svg = lossCurveSvg(input, { title: 'waiting' });
    checkWellFormed(svg);
    assert.ok(svg.includes('no data yet'));
    assert.is(polylines(svg).length, 0);
  }
  assert.ok(trainingCurveSvg([]).includes('no data yet'));
});

s('one point, and constant values, still give a drawing with a scale', () => {
  const one = lossCurveSvg([line('train', [4.2], 7)]);
  checkWellFormed(one);
  assert.not.ok(/NaN|Infinity/.test(one));
  assert.is(polylines(one).length, 0);
  const [[cx, cy]] = circles(one) as [[number, number]];
  const a = plotArea(one);
  assert.ok(cx > a.left && cx < a.right && cy > a.top && cy < a.bottom);
  assert.ok(/>4\.\d<\/text>/.test(one) || />4<\/text>/.test(one), 'y ticks around the value');

  const flat = lossCurveSvg([line('train', [3, 3, 3, 3])]);
  checkWellFormed(flat);
  assert.not.ok(/NaN|Infinity/.test(flat));
  const [pts] = polylines(flat) as [[number, number][]];
  assert.ok(pts.every((p) => p[1] === pts[0]![1] && p[1] > a.top && p[1] < a.bottom));
});

s('trainingCurveSvg: train over every record, validation only where valLoss is defined; output is deterministic', () => {
  const records = [{ step: 1, loss: 10 }, { step: 50, loss: 7, valLoss: 7.5 }, { step: 100, loss: 6 }, { step: 150, loss: 5.5, valLoss: 6 }];
  const svg = trainingCurveSvg(records, 'tiny');
  checkWellFormed(svg);
  assert.equal(polylines(svg).map((l) => l.length), [4, 2]);
  assert.ok(svg.includes('>train</text>') && svg.includes('>validation</text>') && svg.includes('>tiny</text>'));
  assert.is(trainingCurveSvg(records, 'tiny'), svg);
  assert.not.ok(/\d\.\d{3}/.test(svg), 'no number with more than two decimals');
});

s('dashed series are dashed in the plot and the legend; colours differ between series', () => {
  const svg = lossCurveSvg([line('a', [1, 2]), { ...line('b', [2, 1]), dashed: true }]);
  assert.is(svg.match(/stroke-dasharray/g)?.length, 2);
  const colours = [...svg.matchAll(/<g fill="none" stroke="(#[0-9a-f]{6})"/g)].map((m) => m[1]);
  assert.is(colours.length, 2);
  assert.is.not(colours[0], colours[1]);
});

s.run();
