/**
 * Progress on a terminal: one line redrawn in place by cli-progress, like tqdm:
 *
 *   train  42%|████████░░░░░░░░░░░░| 420/1000 [00:03<00:04, 131.2 it/s] train/loss=0.2311
 *
 * Redraws are throttled twice over: cli-progress redraws on its own timer (10 per second) while
 * the event loop turns, and a loop that never yields redraws from its periodic checks, at most as
 * often. Nothing is written when the line did not change.
 */
import cliProgress from 'cli-progress';
import { formatCount, formatDuration, formatMetrics, formatRate } from './progress-format.js';
import type { ProgressSnapshot } from './progress-meter.js';
import type {
  LoopOutcome,
  ProgressReporter,
  ProgressReporterSettings,
  ProgressStream,
} from './progress-reporter.js';

/** Redraws per second: smooth to the eye, cheap for the terminal (tqdm and cli-progress use 10). */
const REDRAWS_PER_SECOND = 10;
const REDRAW_INTERVAL_MS = 1000 / REDRAWS_PER_SECOND;
/** Bar width in characters; the line is cut to the terminal's width anyway. */
const BAR_SIZE = 20;
/** Width assumed when a stream does not say (a pseudo-terminal without a size, a fake). */
const DEFAULT_COLUMNS = 80;
/** Left free at the right edge: writing into the last column makes some terminals wrap. */
const RIGHT_MARGIN = 1;

const SUFFIX_BY_OUTCOME: Record<LoopOutcome, string> = {
  completed: '',
  stopped: ' (stopped early)',
  failed: ' (failed)',
  interrupted: ' (interrupted)',
};

/**
 * cli-progress re-arms a timer after every redraw; unref'd, it never keeps a finished script
 * alive (a loop abandoned without `return()` leaves the bar, not a hanging process).
 */
class UnrefSingleBar extends cliProgress.SingleBar {
  override render(): void {
    super.render();
    (this as unknown as { timer?: { unref?: () => void } | null }).timer?.unref?.();
  }
}

/**
 * The bar's text for a state; `bar` is the drawn bar (used only when the total is known), and
 * `outcome` how the loop ended, for the last redraw.
 */
export function formatBarLine(
  snapshot: ProgressSnapshot,
  bar: string,
  outcome?: LoopOutcome,
): string {
  const suffix = outcome === undefined ? '' : SUFFIX_BY_OUTCOME[outcome];
  const prefix = snapshot.description === undefined ? '' : `${snapshot.description} `;
  const metrics = formatMetrics(snapshot.metrics);
  const tail = metrics === '' ? suffix : ` ${metrics}${suffix}`;
  const rate = formatRate(snapshot.rate);
  const elapsed = formatDuration(snapshot.elapsedMs);
  if (snapshot.total === undefined) {
    return `${prefix}${formatCount(snapshot.count, undefined)} [${elapsed}, ${rate}]${tail}`;
  }
  const percent = snapshot.total === 0 ? 100 : Math.floor((100 * snapshot.count) / snapshot.total);
  const eta = outcome === undefined ? `<${formatDuration(snapshot.etaMs)}` : '';
  return `${prefix}${String(percent).padStart(3)}%|${bar}| ${snapshot.count}/${snapshot.total} [${elapsed}${eta}, ${rate}]${tail}`;
}

export function createProgressBar(settings: ProgressReporterSettings): ProgressReporter {
  const { meter, readCount } = settings;
  // 'bar' asked for on a stream that is not a TTY (an IDE console, a log viewer that handles
  // carriage returns): draw it anyway, as on a terminal of the stream's width.
  const stream: ProgressStream =
    settings.stream.isTTY === true
      ? settings.stream
      : {
          isTTY: true,
          columns: settings.stream.columns ?? DEFAULT_COLUMNS,
          write: (text: string) => settings.stream.write(text),
        };
  let lastDrawAt = Number.NEGATIVE_INFINITY;
  let final: { snapshot: ProgressSnapshot; outcome: LoopOutcome } | undefined;

  const bar = new UnrefSingleBar({
    stream: stream as NodeJS.WritableStream,
    fps: REDRAWS_PER_SECOND,
    barsize: BAR_SIZE,
    barCompleteChar: '\u2588',
    barIncompleteChar: '\u2591',
    hideCursor: false,
    // cli-progress's SIGINT handler would swallow the first Ctrl-C; the run's exit hooks own it.
    gracefulExit: false,
    // Cut the line ourselves (below) rather than turn the terminal's line wrapping off, which
    // would stay off if the process were killed mid-loop.
    linewrap: true,
    clearOnComplete: false,
    format: (options, params) => {
      const now = performance.now();
      lastDrawAt = now;
      const snapshot = final?.snapshot ?? meter.snapshot(readCount(), now);
      const progress =
        snapshot.total === undefined || snapshot.total === 0
          ? 1
          : Math.min(1, snapshot.count / snapshot.total);
      const drawn = cliProgress.Format.BarFormat(progress, options);
      const line = formatBarLine(snapshot, drawn, final?.outcome);
      const width = Math.max(1, (params.maxWidth || DEFAULT_COLUMNS) - RIGHT_MARGIN);
      return line.length > width ? line.slice(0, width) : line;
    },
  });
  bar.start(meter.total ?? 0, 0);

  return {
    tick(now) {
      if (now - lastDrawAt >= REDRAW_INTERVAL_MS) bar.render();
    },
    finish(outcome, count, now) {
      final = { snapshot: meter.finalSnapshot(count, now), outcome };
      bar.stop();
    },
  };
}
