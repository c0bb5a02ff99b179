// The loss curve on a canvas: train loss at every step and validation loss at each evaluation, against
// step, with the axes' ranges written on them. The canvas's label says the latest values for screen readers.

export interface Point {
  step: number;
  loss: number;
}

const PAD = { left: 44, right: 10, top: 10, bottom: 24 };

export function drawLossChart(canvas: HTMLCanvasElement, train: Point[], val: Point[], steps: number): void {
  const ratio = globalThis.devicePixelRatio || 1;
  const width = Math.max(240, Math.round(canvas.clientWidth || canvas.width));
  const height = Math.round(width * 0.42);
  if (canvas.width !== width * ratio) {
    canvas.width = width * ratio;
    canvas.height = height * ratio;
  }
  const g = canvas.getContext('2d');
  if (!g) return;
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, height);
  const all = [...train, ...val].map((p) => p.loss).filter(Number.isFinite);
  const css = getComputedStyle(canvas);
  g.font = '11px system-ui, sans-serif';
  g.fillStyle = css.getPropertyValue('--muted') || '#57606a';
  if (!all.length) {
    g.fillText('the loss curve appears here once training starts', PAD.left, height / 2);
    return;
  }
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  const span = hi - lo || 1;
  const xMax = Math.max(steps, 1);
  const x = (s: number) => PAD.left + ((width - PAD.left - PAD.right) * s) / xMax;
  const y = (l: number) => PAD.top + ((height - PAD.top - PAD.bottom) * (hi - l)) / span;
  g.strokeStyle = css.getPropertyValue('--line') || '#d0d7de';
  g.strokeRect(PAD.left, PAD.top, width - PAD.left - PAD.right, height - PAD.top - PAD.bottom);
  g.fillText(hi.toFixed(2), 4, PAD.top + 8);
  g.fillText(lo.toFixed(2), 4, height - PAD.bottom);
  g.fillText('0', PAD.left, height - 8);
  g.fillText(`step ${xMax}`, width - PAD.right - 48, height - 8);
  const line = (points: Point[], color: string, dots: boolean) => {
    g.strokeStyle = g.fillStyle = color;
    g.lineWidth = 2;
    g.beginPath();
    points.forEach((p, i) => (i ? g.lineTo(x(p.step), y(p.loss)) : g.moveTo(x(p.step), y(p.loss))));
    g.stroke();
    if (dots) for (const p of points) g.fillRect(x(p.step) - 2.5, y(p.loss) - 2.5, 5, 5);
  };
  line(train, css.getPropertyValue('--train') || '#0b5cad', false);
  line(val, css.getPropertyValue('--val') || '#c2410c', true);
  const last = (ps: Point[]) => (ps.length ? `${ps[ps.length - 1]!.loss.toFixed(3)} at step ${ps[ps.length - 1]!.step}` : 'none yet');
  canvas.setAttribute('aria-label', `loss curve: train ${last(train)}, validation ${last(val)}`);
}
