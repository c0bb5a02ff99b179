// Loss curves as a self-contained SVG (no scripts, no external fonts, no dependencies): nice 1-2-5 ticks on
// both axes, gridlines, axis labels, a legend, one polyline per unbroken run of finite points (a NaN or an
// infinity leaves a gap) and a dot on each point of a sparse series (validation). Numbers are rounded to two
// decimals, so the same input always gives the same bytes.

export interface CurvePoint { step: number; value: number }
export interface CurveSeries {
  name: string;
  points: CurvePoint[];
  /** Drawn dashed (in the legend too). */
  dashed?: boolean;
  /** A CSS colour; without it, the palette's colour for the series' index. */
  color?: string;
}
export interface CurveOptions { title?: string; width?: number; height?: number; xLabel?: string; yLabel?: string }

/** Distinguishable colours (Tableau 10), in order of use. */
export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
/** Series with at most this many points get a dot on each point. */
const SPARSE = 60;

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Two decimals at most, no trailing zeros, never "-0". */
const num = (x: number): string => String(Math.round(x * 100) / 100 + 0);

/** A 1, 2 or 5 times a power of ten, about range/target. */
export function niceStep(range: number, target = 6): number {
  const raw = range / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
}

/** The multiples of a nice step inside [lo, hi]. */
export function niceTicks(lo: number, hi: number, target = 6): number[] {
  const step = niceStep(hi - lo, target);
  const ticks: number[] = [];
  // A little slack so a tick that lands on an end by floating-point luck is kept.
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) ticks.push(k * step);
  return ticks;
}

function tickLabel(v: number, step: number): string {
  if (Math.abs(v) >= 10_000 && step >= 1000) return `${Number((v / 1000).toFixed(Math.max(0, -Math.floor(Math.log10(step / 1000)))))}k`;
  return v.toFixed(Math.max(0, -Math.floor(Math.log10(step) + 1e-9)));
}

/** [lo, hi] widened when it is a single value, so that one point or a flat line still has a scale. */
function span(lo: number, hi: number, pad: number): [number, number] {
  if (hi > lo) return [lo - (hi - lo) * pad, hi + (hi - lo) * pad];
  const half = Math.abs(lo) * 0.1 || 1;
  return [lo - half, hi + half];
}

/** The series' points in step order, split at every non-finite step or value. */
function segments(points: CurvePoint[]): CurvePoint[][] {
  const out: CurvePoint[][] = [[]];
  for (const p of [...points].sort((a, b) => a.step - b.step)) {
    if (Number.isFinite(p.step) && Number.isFinite(p.value)) out[out.length - 1]!.push(p);
    else if (out[out.length - 1]!.length) out.push([]);
  }
  return out.filter((s) => s.length > 0);
}

export function lossCurveSvg(series: CurveSeries[], opts: CurveOptions = {}): string {
  const W = opts.width ?? 760;
  const H = opts.height ?? 440;
  const title = opts.title ?? '';
  const font = 'font-family="sans-serif"';
  const head = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`,
    `<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`,
  ];
  if (title) head.push(`<text x="${num(W / 2)}" y="22" text-anchor="middle" ${font} font-size="15" font-weight="bold">${escapeXml(title)}</text>`);

  const segs = series.map((s) => segments(s.points));
  const all = segs.flat(2);
  if (!all.length) {
    return [...head, `<text x="${num(W / 2)}" y="${num(H / 2)}" text-anchor="middle" ${font} font-size="14" fill="#666666">no data yet</text>`, '</svg>', ''].join('\n');
  }

  // The plot area; the legend sits right of it.
  const legendW = Math.min(180, 40 + 7 * Math.max(...series.map((s) => s.name.length)));
  const left = 64, top = title ? 40 : 20, right = W - legendW - 16, bottom = H - 48;
  const firstStep = Math.min(...all.map((p) => p.step)), lastStep = Math.max(...all.map((p) => p.step));
  // Steps that start near 0 (1, or the first logged step) get an axis from 0, whose tick reads better.
  const [x0, x1] = span(firstStep > 0 && firstStep <= 0.1 * lastStep ? 0 : firstStep, lastStep, 0);
  const [y0, y1] = span(Math.min(...all.map((p) => p.value)), Math.max(...all.map((p) => p.value)), 0.05);
  const sx = (x: number) => left + ((x - x0) / (x1 - x0)) * (right - left);
  const sy = (y: number) => bottom - ((y - y0) / (y1 - y0)) * (bottom - top);

  const out = [...head];
  const xt = niceTicks(x0, x1), yt = niceTicks(y0, y1);
  const xs = niceStep(x1 - x0), ys = niceStep(y1 - y0);
  out.push('<g stroke="#e5e5e5" stroke-width="1">');
  for (const t of xt) out.push(`<line x1="${num(sx(t))}" y1="${top}" x2="${num(sx(t))}" y2="${bottom}"/>`);
  for (const t of yt) out.push(`<line x1="${left}" y1="${num(sy(t))}" x2="${right}" y2="${num(sy(t))}"/>`);
  out.push('</g>');
  out.push(`<rect x="${left}" y="${top}" width="${right - left}" height="${bottom - top}" fill="none" stroke="#333333" stroke-width="1"/>`);
  out.push(`<g ${font} font-size="11" fill="#333333">`);
  for (const t of xt) out.push(`<text x="${num(sx(t))}" y="${bottom + 16}" text-anchor="middle">${tickLabel(t, xs)}</text>`);
  for (const t of yt) out.push(`<text x="${left - 6}" y="${num(sy(t) + 4)}" text-anchor="end">${tickLabel(t, ys)}</text>`);
  out.push('</g>');
  out.push(`<text x="${num((left + right) / 2)}" y="${H - 12}" text-anchor="middle" ${font} font-size="12">${escapeXml(opts.xLabel ?? 'step')}</text>`);
  out.push(`<text x="16" y="${num((top + bottom) / 2)}" text-anchor="middle" ${font} font-size="12" transform="rotate(-90 16 ${num((top + bottom) / 2)})">${escapeXml(opts.yLabel ?? 'loss')}</text>`);

  series.forEach((s, i) => {
    const color = escapeXml(s.color ?? PALETTE[i % PALETTE.length]!);
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    const finite = segs[i]!.flat();
    out.push(`<g fill="none" stroke="${color}" stroke-width="1.75"${dash}>`);
    for (const seg of segs[i]!) {
      if (seg.length >= 2) out.push(`<polyline points="${seg.map((p) => `${num(sx(p.step))},${num(sy(p.value))}`).join(' ')}"/>`);
    }
    out.push('</g>');
    // Dots on a sparse series, and on any lone point, which no line would show.
    const dots = finite.length <= SPARSE ? finite : segs[i]!.filter((seg) => seg.length === 1).flat();
    if (dots.length) {
      out.push(`<g fill="${color}" stroke="none">`);
      for (const p of dots) out.push(`<circle cx="${num(sx(p.step))}" cy="${num(sy(p.value))}" r="2.5"/>`);
      out.push('</g>');
    }
  });

  out.push(`<g ${font} font-size="12">`);
  series.forEach((s, i) => {
    const color = escapeXml(s.color ?? PALETTE[i % PALETTE.length]!);
    const y = top + 10 + i * 20;
    const lx = right + 14;
    out.push(`<line x1="${lx}" y1="${y}" x2="${lx + 24}" y2="${y}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    out.push(`<text x="${lx + 30}" y="${y + 4}" fill="#222222">${escapeXml(s.name)}</text>`);
  });
  out.push('</g>', '</svg>', '');
  return out.join('\n');
}

/** A training run's records as two curves: "train" (every record) and "validation" (records with valLoss). */
export function trainingCurveSvg(records: { step: number; loss: number; valLoss?: number }[], title?: string): string {
  return lossCurveSvg([
    { name: 'train', points: records.map((r) => ({ step: r.step, value: r.loss })) },
    { name: 'validation', points: records.filter((r) => r.valLoss !== undefined).map((r) => ({ step: r.step, value: r.valLoss! })) },
  ], title === undefined ? {} : { title });
}
