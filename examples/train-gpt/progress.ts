// A progress line for the training loop. On a terminal, one line redrawn in place (`\r` + clear to end of
// line): a bar sized to the terminal, the step, the loss, tokens per second and the ETA; permanent lines
// (`log`) are printed above it. Anywhere else (a pipe, a file, CI) the bar is silent and `log` prints plain
// lines, so the periodic log lines the caller prints are all a log file gets.

export interface ProgressStream { isTTY?: boolean; columns?: number; write(s: string): boolean }
export interface ProgressFields { loss?: number; tokensPerSecond?: number; etaSeconds?: number }
export interface Progress {
  /** The bar at `step` (1..total); on a terminal, redrawn at most ~10 times a second, the final step always. */
  update(step: number, fields?: ProgressFields): void;
  /** A permanent line (on a terminal: printed above the bar, which is redrawn). */
  log(line: string): void;
  /** Ends the bar's line with a newline; later `log` lines are plain. */
  done(): void;
}
export interface ProgressOptions {
  total: number;
  /** Where to print; default process.stdout. The caller's own lines must go through `log` on the same stream. */
  stream?: ProgressStream;
  /** Overrides the stream's isTTY. */
  tty?: boolean;
  /** Milliseconds (for the throttle); default Date.now. */
  now?: () => number;
}

const CLEAR = '\r\x1b[K';
/** Redraws closer together than this are skipped (except the final step). */
const MIN_INTERVAL_MS = 100;

/** 42s, 3m07s, 1h02m; '?' when unknown (not finite or negative). */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  const m = Math.round(s / 60);
  return `${Math.floor(m / 60)}h${pad(m % 60)}m`;
}

function formatRate(tps: number): string {
  if (tps >= 1e6) return `${(tps / 1e6).toFixed(2)}M`;
  if (tps >= 1e4) return `${(tps / 1e3).toFixed(1)}K`;
  return String(Math.round(tps));
}

/** The text after the bar: `step 120/2000  loss 5.2340  35.8K tok/s  ETA 3m07s`. */
export function progressText(step: number, total: number, f: ProgressFields): string {
  const parts = [`step ${String(step).padStart(String(total).length)}/${total}`];
  if (f.loss !== undefined) parts.push(`loss ${Number.isFinite(f.loss) ? f.loss.toFixed(4) : String(f.loss)}`);
  if (f.tokensPerSecond !== undefined && Number.isFinite(f.tokensPerSecond)) parts.push(`${formatRate(f.tokensPerSecond)} tok/s`);
  if (f.etaSeconds !== undefined) parts.push(`ETA ${formatDuration(f.etaSeconds)}`);
  return parts.join('  ');
}

/** The whole line, at most columns-1 characters (writing the last column makes some terminals wrap). */
export function progressLine(step: number, total: number, f: ProgressFields, columns: number): string {
  const text = progressText(step, total, f);
  const room = columns - 1;
  // The rest of the width, up to 50 (a wide terminal would make a long bar that says no more).
  const barWidth = Math.min(50, room - text.length - 3);
  if (barWidth < 5) return text.slice(0, Math.max(0, room));
  const filled = total > 0 ? Math.round((Math.min(Math.max(step, 0), total) / total) * barWidth) : 0;
  return `[${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}] ${text}`;
}

export function createProgress(opts: ProgressOptions): Progress {
  const stream: ProgressStream = opts.stream ?? process.stdout;
  const tty = opts.tty ?? Boolean(stream.isTTY);
  const now = opts.now ?? Date.now;
  let last: { step: number; fields: ProgressFields } | undefined;
  let lastDraw = -Infinity;
  let finished = false;
  // Read the width at each draw: the terminal may be resized during a run.
  const draw = () => {
    if (!last) return;
    stream.write(`${CLEAR}${progressLine(last.step, opts.total, last.fields, stream.columns || 80)}`);
    lastDraw = now();
  };
  return {
    update(step, fields = {}) {
      if (!tty || finished) return;
      last = { step, fields };
      if (step >= opts.total || now() - lastDraw >= MIN_INTERVAL_MS) draw();
    },
    log(line) {
      if (!tty || finished) {
        stream.write(`${line}\n`);
        return;
      }
      stream.write(`${CLEAR}${line}\n`);
      draw();
    },
    done() {
      if (!tty || finished) return;
      finished = true;
      if (last) {
        draw();
        stream.write('\n');
      }
    },
  };
}
