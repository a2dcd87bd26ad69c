/**
 * Where progress goes: a redrawn bar on a terminal, plain lines in a log, or nowhere. The loop
 * calls `tick()` from its throttled checks and `finish()` once; both only format and write.
 */
import { createProgressBar } from './progress-bar.js';
import { createProgressLines } from './progress-lines.js';
import type { ProgressMeter } from './progress-meter.js';

/** `'auto'`: a bar on a TTY, lines otherwise. `'bar'`: a bar even on a stream that is not a TTY. */
export type ProgressMode = 'auto' | 'bar' | 'lines' | false;

/**
 * How the loop was left: ran out, left early (break, return, a thrown exception), its source
 * threw, or its run was ended as interrupted while it ran (Ctrl-C, SIGTERM).
 */
export type LoopOutcome = 'completed' | 'stopped' | 'failed' | 'interrupted';

/** A stream progress can be written to: process.stderr, a file stream, or a test's fake. */
export interface ProgressStream {
  write(text: string): unknown;
  /** True on a terminal: the bar redraws in place. */
  isTTY?: boolean;
  /** Terminal width; the bar is cut to fit. */
  columns?: number;
}

export interface ProgressReporter {
  /** Draws if it is time to (called every few milliseconds at most, from the loop's checks). */
  tick(now: number): void;
  /**
   * Stops drawing, leaving what is shown, until `finish()`: the loop was left and how it ended
   * is not known yet (a break, or an exception on its way to the exit hooks).
   */
  pause(): void;
  /** Prints `text` on lines of its own, above a bar (which is redrawn under it). */
  write(text: string): void;
  /** Draws the final state, with `count` iterations done, and lets go of the terminal. */
  finish(outcome: LoopOutcome, count: number, now: number): void;
}

export interface ProgressReporterSettings {
  mode: ProgressMode;
  stream: ProgressStream;
  meter: ProgressMeter;
  /** Iterations done so far (read only when drawing). */
  readCount: () => number;
  /** Least time between two plain lines. */
  lineIntervalMs: number;
}

const PROGRESS_MODES: readonly ProgressMode[] = ['auto', 'bar', 'lines', false];

/** Throws a TypeError naming the option when `mode` is not a progress mode. */
export function checkProgressMode(mode: unknown): ProgressMode {
  if ((PROGRESS_MODES as readonly unknown[]).includes(mode)) return mode as ProgressMode;
  throw new TypeError(
    `livestep: track() option progress got ${JSON.stringify(mode)}; use 'auto' (default), 'bar', 'lines' or false`,
  );
}

/** The reporter for a mode, or undefined when progress is off. */
export function createProgressReporter(
  settings: ProgressReporterSettings,
): ProgressReporter | undefined {
  const { mode, stream } = settings;
  if (mode === false) return undefined;
  if (mode === 'bar' || (mode === 'auto' && stream.isTTY === true)) {
    return createProgressBar(settings);
  }
  return createProgressLines(settings);
}
