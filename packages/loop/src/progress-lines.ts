/**
 * Progress for logs (CI, a file, a pipe): plain lines, no escape codes, few enough to read.
 *
 * With a total, a line at each new 10% once `lineIntervalMs` (default 5 s) has passed since the
 * previous line; with or without one, a line at least every 6 x `lineIntervalMs` (30 s) while the
 * loop moves. A final line says how the loop ended, always: a loop over in a second still leaves
 * one line in the log saying what it did.
 */
import { formatProgressLine } from './progress-format.js';
import type {
  LoopOutcome,
  ProgressReporter,
  ProgressReporterSettings,
} from './progress-reporter.js';

/** Least time between two lines by default: a fast loop must not flood the log. */
export const DEFAULT_LINE_INTERVAL_MS = 5_000;
/** Progress marks a loop with a total reports at: every tenth. */
const MARKS = 10;
/** A line at least this many intervals apart, for loops without a total or that crawl. */
const QUIET_INTERVALS = 6;

const SUFFIX_BY_OUTCOME: Record<LoopOutcome, string> = {
  completed: 'done',
  stopped: 'stopped early',
  failed: 'failed',
  interrupted: 'interrupted',
};

export function createProgressLines(settings: ProgressReporterSettings): ProgressReporter {
  const { stream, meter, readCount, lineIntervalMs } = settings;
  const total = meter.total;
  let lastLineAt = meter.startedAt;
  let lastMark = 0;

  const write = (text: string) => {
    stream.write(`${text}\n`);
  };

  return {
    tick(now) {
      const sinceLast = now - lastLineAt;
      if (sinceLast < lineIntervalMs) return;
      const count = readCount();
      const mark = total !== undefined && total > 0 ? Math.floor((count * MARKS) / total) : 0;
      if (mark > lastMark || sinceLast >= QUIET_INTERVALS * lineIntervalMs) {
        lastMark = mark;
        lastLineAt = now;
        write(formatProgressLine(meter.snapshot(count, now)));
      }
    },
    pause() {
      // Lines are written when due; nothing is redrawn in place.
    },
    write(text) {
      stream.write(text.endsWith('\n') ? text : `${text}\n`);
    },
    finish(outcome, count, now) {
      write(formatProgressLine(meter.finalSnapshot(count, now), SUFFIX_BY_OUTCOME[outcome]));
    },
  };
}
