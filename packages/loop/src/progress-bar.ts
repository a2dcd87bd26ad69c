/**
 * Progress on a terminal: one line redrawn in place, like tqdm:
 *
 *   train  42%|████████░░░░░░░░░░░░| 420/1000 [00:03<00:04, 131.2 it/s] train/loss=0.2311
 *
 * Redraws are throttled twice over: a timer redraws 10 times a second while the event loop turns
 * (unref'd: it never keeps a finished script alive), and a loop that never yields redraws from
 * its periodic checks, at most as often. Nothing is written when the line did not change. The
 * line lives on the stream's live line (progress-terminal.ts): text printed with `loop.write()`,
 * or by the program while the bar is up, goes above it.
 *
 * The line is laid out to the terminal's width, never cut inside a value: the count, times, rate
 * and how the loop ended always show; then the first metric, the bar (at least
 * MIN_BAR_SIZE wide), the other metrics (whole, in the order logged, `…` for those that do not
 * fit) and the bar's full width, as far as they fit.
 */
import { formatCount, formatDuration, formatMetricValue, formatRate } from './progress-format.js';
import type { ProgressSnapshot } from './progress-meter.js';
import type {
  LoopOutcome,
  ProgressReporter,
  ProgressReporterSettings,
} from './progress-reporter.js';
import { type AttachOptions, attachBar, printAbove } from './progress-terminal.js';

/** Redraws per second: smooth to the eye, cheap for the terminal (tqdm and cli-progress use 10). */
const REDRAWS_PER_SECOND = 10;
const REDRAW_INTERVAL_MS = 1000 / REDRAWS_PER_SECOND;
/** Bar width in characters when the line has room. */
const BAR_SIZE = 20;
/** The narrowest bar worth drawing; below it the percentage says as much. */
const MIN_BAR_SIZE = 5;
/** Width assumed when a stream does not say (a pseudo-terminal without a size, a fake). */
const DEFAULT_COLUMNS = 80;
/** Left free at the right edge: writing into the last column makes some terminals wrap. */
const RIGHT_MARGIN = 1;
const FILLED = '\u2588';
const EMPTY = '\u2591';
/** Shown after the metrics when some did not fit. */
const MORE = ' \u2026';

const SUFFIX_BY_OUTCOME: Record<LoopOutcome, string> = {
  completed: '',
  stopped: ' (stopped early)',
  failed: ' (failed)',
  interrupted: ' (interrupted)',
};

function drawBar(progress: number, size: number): string {
  const filled = Math.round(Math.min(1, Math.max(0, progress)) * size);
  return FILLED.repeat(filled) + EMPTY.repeat(size - filled);
}

export interface BarLineOptions {
  /** How the loop ended, for the last line. */
  outcome?: LoopOutcome;
  /** Characters the line may take (default: unlimited). */
  width?: number;
}

/**
 * The bar's text for a state, laid out in `width` characters: the parts that say where the loop
 * is (count, times, rate) and how it ended always; metrics and the bar as far as they fit, never
 * cut in the middle. Only when even the essentials do not fit is the text cut, at a space,
 * keeping how the loop ended.
 */
export function formatBarLine(snapshot: ProgressSnapshot, options: BarLineOptions = {}): string {
  const width = options.width ?? Number.POSITIVE_INFINITY;
  const suffix = options.outcome === undefined ? '' : SUFFIX_BY_OUTCOME[options.outcome];
  const description = snapshot.description === undefined ? '' : `${snapshot.description} `;
  const rate = formatRate(snapshot.rate);
  const elapsed = formatDuration(snapshot.elapsedMs);
  const { total } = snapshot;
  let head: string;
  let tail: string;
  let progress = 0;
  if (total === undefined) {
    head = formatCount(snapshot.count, undefined);
    tail = ` [${elapsed}, ${rate}]`;
  } else {
    const percent = total === 0 ? 100 : Math.floor((100 * snapshot.count) / total);
    progress = total === 0 ? 1 : snapshot.count / total;
    const eta = options.outcome === undefined ? `<${formatDuration(snapshot.etaMs)}` : '';
    head = `${String(percent).padStart(3)}%`;
    tail = ` ${snapshot.count}/${total} [${elapsed}${eta}, ${rate}]`;
  }
  const metrics = [...snapshot.metrics].map(
    ([name, value]) => ` ${name}=${formatMetricValue(value)}`,
  );
  const compose = (barSize: number, shown: number, withDescription = true) =>
    `${withDescription ? description : ''}${head}${barSize > 0 ? `|${drawBar(progress, barSize)}|` : ''}${tail}${metrics.slice(0, shown).join('')}${shown < metrics.length ? MORE : ''}${suffix}`;

  const hasBar = total !== undefined;
  const full = compose(hasBar ? BAR_SIZE : 0, metrics.length);
  if (full.length <= width) return full;

  // Greedy, most useful first: the first metric, a narrow bar, more metrics, a wider bar.
  let shown = 0;
  let barSize = 0;
  const fits = (size: number, count: number) => compose(size, count).length <= width;
  if (metrics.length > 0 && fits(0, 1)) shown = 1;
  if (hasBar && fits(MIN_BAR_SIZE, shown)) barSize = MIN_BAR_SIZE;
  while (shown < metrics.length && fits(barSize, shown + 1)) shown++;
  while (barSize > 0 && barSize < BAR_SIZE && fits(barSize + 1, shown)) barSize++;
  const laidOut = compose(barSize, shown);
  if (laidOut.length <= width) return laidOut;

  // The essentials alone are too wide: drop the description, then cut at a space.
  const bare = compose(0, 0, false);
  if (bare.length <= width) return bare;
  const body = bare.slice(0, bare.length - suffix.length);
  const room = Math.max(0, width - suffix.length);
  const cut = body.lastIndexOf(' ', room);
  return `${body.slice(0, cut > 0 ? cut : room)}${suffix}`.slice(0, Math.max(1, width));
}

export interface ProgressBarSettings extends ProgressReporterSettings {
  /** Which streams' writes go above the bar (see progress-terminal.ts). */
  attach?: AttachOptions;
}

export function createProgressBar(settings: ProgressBarSettings): ProgressReporter {
  const { meter, readCount, stream } = settings;
  let lastDrawAt = Number.NEGATIVE_INFINITY;
  const columns = () => Math.max(1, (stream.columns || DEFAULT_COLUMNS) - RIGHT_MARGIN);
  const bar = attachBar(
    stream,
    () => {
      lastDrawAt = performance.now();
      return formatBarLine(meter.snapshot(readCount(), lastDrawAt), { width: columns() });
    },
    settings.attach,
  );
  bar.draw();
  let timer: ReturnType<typeof setInterval> | undefined = setInterval(
    () => bar.draw(),
    REDRAW_INTERVAL_MS,
  );
  timer.unref();
  const stopTimer = () => {
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
  };

  return {
    tick(now) {
      if (timer !== undefined && now - lastDrawAt >= REDRAW_INTERVAL_MS) bar.draw();
    },
    pause: stopTimer,
    write(text) {
      printAbove(stream, text);
    },
    finish(outcome, count, now) {
      stopTimer();
      bar.finish(formatBarLine(meter.finalSnapshot(count, now), { outcome, width: columns() }));
    },
  };
}
