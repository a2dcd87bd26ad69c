// biome-ignore-all lint/style/noExcessiveLinesPerFile: LoopBase and its two loops (sync and async) share private state; one file keeps that state in one place.
/**
 * The iterator `track()` returns. Each value it hands out is one step of the run:
 *
 *   for (const batch of track(batches)) {   // iteration i runs at step first + i
 *     loop.logMetric('train/loss', loss);   //   so this value carries step first + i
 *   }                                       // asking for the next value is nextStep()
 *
 * The hot path (one iteration) increments a counter and compares it with the next check; only
 * every few milliseconds does a check read the clock, redraw progress and sample the system.
 *
 * How the loop ends decides what happens to a run the loop started itself (an "owned" run):
 *
 * - the values ran out: the run ends `completed`;
 * - the source threw: the run ends `failed`, with the error (the loop sees that error);
 * - the loop was left early: `break`, `return`, or an exception thrown in the body. JavaScript
 *   calls the same `return()` on the iterator for all three, so the loop cannot tell them apart.
 *   It tears down progress at once, and ends the run on the next turn of the event loop: by then an
 *   uncaught exception or unhandled rejection has reached the run's exit hooks, which end it
 *   `failed` with the error; otherwise it ends `completed` (or `failed` if `process.exitCode` was
 *   set), with an annotation that the loop stopped early. An exception the program catches
 *   itself is not seen: call `loop.end('failed', { error })` in the catch, or use `trackEach()`.
 *
 * A run passed in (`options.run`) is never ended by the loop (`loop.endsRun` is false).
 *
 * `for await` keeps the event loop turning: before each value it calls core's
 * `yieldToEventLoop()`, which gives timers, I/O and signal handlers a turn when the last one is
 * older than 50 ms (one clock read otherwise). A loop whose body awaits only settled promises
 * (pure computation, tfjs on the cpu backend) would otherwise run on microtasks alone, and its
 * network sinks, progress timer and Ctrl-C would wait until it ended. A sync `for` cannot yield;
 * file sinks still get its points (they write from the logging call that seals a batch).
 *
 * Once the run has ended while the loop runs (an exit hook ended it as interrupted on Ctrl-C or
 * SIGTERM, or the program ended a run it passed in), `for await` stops handing out values: the
 * loop ends, and the source is closed, as tfjs's fit stops.
 */
import {
  type EndOptions,
  type FlushReport,
  type MetricOptions,
  type Run,
  type RunStatus,
  type StartRunOptions,
  type SystemMonitor,
  type SystemMonitorOptions,
  startRun,
  startSystemMonitor,
  yieldToEventLoop,
} from '@livestep/core';
import { emitLivestepWarning } from '@livestep/core/sink-kit';
import { ProgressMeter } from './progress-meter.js';
import {
  createProgressReporter,
  type LoopOutcome,
  type ProgressMode,
  type ProgressReporter,
  type ProgressStream,
} from './progress-reporter.js';

/** Aim for a check (clock read, maybe a redraw or a system sample) about this often. */
const CHECK_PERIOD_MS = 25;
/** Most iterations between two checks: bounds how long a sudden slowdown goes unseen. */
const MAX_CHECK_STRIDE = 1_000;
/** How fast the stride may grow from one check to the next, so a fast start does not overshoot. */
const STRIDE_GROWTH = 4;

const READY = 0;
const RUNNING = 1;
const FINISHED = 2;

/** What the loop was set up with, after `track()` checked the options. */
export interface LoopSettings {
  run: Run | undefined;
  runOptions: StartRunOptions | undefined;
  total: number | undefined;
  description: string | undefined;
  progress: ProgressMode;
  stream: ProgressStream | undefined;
  lineIntervalMs: number;
  systemMetrics: SystemMonitorOptions | undefined;
  /** How long the own run's `end()` waits for delivery (undefined: the run's default). */
  endTimeoutMs: number | undefined;
  /**
   * Whether each iteration is a step of the run; undefined: yes, unless the loop starts inside
   * another loop over the same run (nested: the outer loop's iterations are the steps).
   */
  advanceStep: boolean | undefined;
}

/** Loops running over each run, so a loop started inside another over the same run is seen. */
const runningLoops = new WeakMap<Run, number>();

function warn(message: string): void {
  emitLivestepWarning(message);
}

/** What the two loops share; `Source` is the iterator of the values (sync or async). */
export abstract class LoopBase<Source> {
  /** Iterations expected, when known (from the count, an array's length, a Set's size or `total`). */
  readonly total: number | undefined;
  /**
   * True when the loop starts the run itself (no `options.run`), and so ends it; false for a run
   * passed in, which its owner ends.
   */
  readonly endsRun: boolean;

  /** Values handed out so far. */
  private handedOut = 0;
  /** `handedOut` at which the next check runs; never reached when there is nothing to check. */
  private nextCheck = Number.POSITIVE_INFINITY;
  protected phase = READY;
  /**
   * The run, once there is one: the run passed in, or the run `run` started on first use
   * (undefined until then). Its step advances once per iteration after the first.
   */
  private runIfStarted: Run | undefined;

  /** Where the values come from. */
  protected readonly source: Source;
  private readonly settings: LoopSettings;
  private readonly shown = new Map<string, number>();
  private stride = 1;
  private lastCheckAt = 0;
  private lastCheckCount = 0;
  private reporter: ProgressReporter | undefined;
  private monitor: SystemMonitor | undefined;
  private stoppedEarly: { count: number; step: number } | undefined;
  private ending: Promise<FlushReport> | undefined;
  /** False when iterations do not advance the run's step (a nested loop; `advanceStep: false`). */
  private steps = true;
  /** The progress left early, drawn once it is known how the loop ended (see finishProgressLater). */
  private pendingProgress: (() => void) | undefined;
  private warnedFinished = false;

  constructor(source: Source, settings: LoopSettings) {
    this.source = source;
    this.settings = settings;
    this.total = settings.total;
    this.endsRun = settings.run === undefined;
    this.runIfStarted = settings.run;
  }

  /** The run the iterations are recorded in; a loop without `options.run` starts its own. */
  get run(): Run {
    this.runIfStarted ??= startRun(this.settings.runOptions);
    return this.runIfStarted;
  }

  /** Iterations done so far. */
  get count(): number {
    return this.phase === FINISHED ? this.handedOut : Math.max(0, this.handedOut - 1);
  }

  /** Logs a metric to the run at the current step, and shows its latest value in the progress. */
  logMetric(name: string, value: number, options?: MetricOptions): void {
    this.run.logMetric(name, value, options);
    if (options?.labels === undefined) this.shown.set(name, value);
  }

  /**
   * Prints `text` on lines of its own above the progress bar, which is redrawn under it (tqdm's
   * `write`); with plain lines or no progress, writes it to the progress stream. Use it, or just
   * `console.log`, which goes above the bar too while the bar is up on a terminal.
   */
  write(text: string): void {
    const line = String(text);
    if (this.reporter !== undefined) {
      try {
        this.reporter.write(line);
        return;
      } catch {
        this.reporter = undefined;
      }
    }
    const stream = this.settings.stream ?? process.stderr;
    stream.write(line.endsWith('\n') ? line : `${line}\n`);
  }

  /** Logs several metrics at the current step (all or none), and shows them in the progress. */
  logMetrics(values: Record<string, number>, options?: MetricOptions): void {
    this.run.logMetrics(values, options);
    if (options?.labels === undefined) {
      for (const name of Object.keys(values)) this.shown.set(name, values[name]!);
    }
  }

  /**
   * Ends the loop's own run now: what the loop does by itself when its values run out. Use it in
   * a `catch` around the loop, `loop.end('failed', { error })`, to record an exception the program
   * handles itself. Resolves with the delivery report; calling it again returns the same report.
   */
  end(status: RunStatus = 'completed', options: EndOptions = {}): Promise<FlushReport> {
    if (!this.endsRun) {
      throw new TypeError(
        'livestep: this loop records into the run passed as options.run, which the loop never ends; call run.end() when you are done with that run',
      );
    }
    if (this.phase === RUNNING) {
      this.tearDown(
        status === 'completed' ? 'stopped' : status === 'interrupted' ? 'interrupted' : 'failed',
      );
    }
    // Progress left pending by a break is settled by the run's end (see finishProgressLater).
    return this.endOwnRun(status, options);
  }

  /**
   * `for...of` or `for await` asks for the iterator: a new loop begins, a finished one warns (once)
   * that iterating it again yields nothing.
   */
  protected enter(): void {
    if (this.phase === READY) this.begin();
    else this.warnIfFinished();
  }

  /**
   * `next()` on a loop that is not running: begins a loop not yet begun (returns true, the value
   * may be handed out), and returns false for a finished one (nothing more to hand out).
   */
  protected beginIfReady(): boolean {
    if (this.phase !== READY) return false;
    this.begin();
    return true;
  }

  /**
   * What both loops do with each result of their source: `done` finishes the loop (completed);
   * a value is one iteration: the run's step moves on (not before the first value, which takes
   * the step the run is at), and a check runs when one is due.
   */
  protected advance<T>(result: IteratorResult<T>): IteratorResult<T> {
    if (result.done === true) {
      this.finish('completed');
      return result;
    }
    if (this.handedOut !== 0 && this.steps) this.runIfStarted!.nextStep();
    if (++this.handedOut >= this.nextCheck) this.check();
    return result;
  }

  /** Starts the loop: the run (if its own), progress and the system monitor. */
  private begin(): void {
    if (this.phase !== READY) {
      throw new Error(
        'livestep: a track() loop can be iterated only once; call track() again for another pass',
      );
    }
    this.phase = RUNNING;
    const run = this.run;
    const running = runningLoops.get(run) ?? 0;
    this.steps = this.settings.advanceStep ?? running === 0;
    runningLoops.set(run, running + 1);
    const { systemMetrics, progress, stream, lineIntervalMs, description } = this.settings;
    try {
      if (systemMetrics !== undefined) this.monitor = startSystemMonitor(run, systemMetrics);
      this.reporter = createProgressReporter({
        mode: progress,
        stream: stream ?? process.stderr,
        meter: new ProgressMeter(description, this.total, this.shown),
        readCount: () => Math.max(0, this.handedOut - 1),
        lineIntervalMs,
      });
    } catch (error) {
      this.monitor?.stop();
      this.phase = FINISHED;
      this.leaveRun();
      throw error;
    }
    if (this.reporter !== undefined || this.monitor !== undefined) {
      this.nextCheck = 1;
      this.lastCheckAt = performance.now();
    }
  }

  /**
   * Once the run has ended while the loop was running, by something else than the loop (an exit
   * hook on Ctrl-C, or the program ending the run it passed in): tears the loop down, returns true.
   */
  protected stopIfRunEnded(): boolean {
    const status = this.runIfStarted?.status;
    if (this.phase !== RUNNING || status === undefined || status === 'running') return false;
    this.tearDown(status === 'completed' ? 'stopped' : status);
    return true;
  }

  /** The slow path, every `stride` iterations: adapt the stride, redraw, sample. */
  private check(): void {
    const now = performance.now();
    const count = this.handedOut;
    const elapsed = now - this.lastCheckAt;
    const fitting =
      elapsed > 0
        ? Math.floor(((count - this.lastCheckCount) * CHECK_PERIOD_MS) / elapsed)
        : Number.POSITIVE_INFINITY;
    this.stride = Math.max(1, Math.min(fitting, this.stride * STRIDE_GROWTH, MAX_CHECK_STRIDE));
    this.nextCheck = count + this.stride;
    this.lastCheckAt = now;
    this.lastCheckCount = count;
    this.monitor?.sampleIfDue();
    if (this.reporter !== undefined) {
      try {
        this.reporter.tick(now);
      } catch {
        // A broken stream (a closed pipe) must not break training: progress just stops.
        this.reporter = undefined;
      }
    }
  }

  /**
   * The loop is over: tear down, and end the run if it is the loop's own. Left early, the end
   * waits for the next turn of the event loop (`scheduleEnd`), unless `scheduleEnd` is false and
   * the caller schedules it itself.
   */
  protected finish(outcome: LoopOutcome, error?: unknown, scheduleEnd = true): void {
    if (this.phase !== RUNNING) return;
    // Left early, how the loop ended is not known yet: the progress waits (finishProgressLater).
    this.tearDown(outcome, outcome === 'stopped');
    if (outcome === 'stopped') {
      if (scheduleEnd) this.scheduleEnd();
      return;
    }
    if (!this.endsRun) return;
    if (outcome === 'completed') void this.endOwnRun('completed');
    else if (outcome === 'failed') void this.endOwnRun('failed', { error });
  }

  /**
   * The loop was left early: on the next turn of the event loop, once an exception on its way out
   * had its chance to reach the exit hooks, draw how it ended, and end the loop's own run.
   */
  protected scheduleEnd(): void {
    if (this.stoppedEarly === undefined) return;
    setImmediate(() => {
      this.pendingProgress?.();
      if (this.endsRun) this.endAfterLeavingEarly();
    });
  }

  /** A warning, once, when a loop that has finished is iterated again (it yields nothing). */
  private warnIfFinished(): void {
    if (this.phase !== FINISHED || this.warnedFinished) return;
    this.warnedFinished = true;
    warn(
      `livestep: this track() loop has already finished (${this.count} iterations), so iterating it again runs 0 times; call track() again for another pass`,
    );
  }

  /** Stops progress and the monitor, and moves the run past the last iteration. */
  private tearDown(outcome: LoopOutcome, progressLater = false): void {
    this.phase = FINISHED;
    this.nextCheck = Number.POSITIVE_INFINITY;
    const run = this.run;
    this.leaveRun();
    // The last system sample belongs to the last iteration's step.
    this.monitor?.stop();
    this.monitor = undefined;
    if (progressLater) this.finishProgressLater(this.handedOut, performance.now());
    else this.finishProgress(outcome, this.handedOut, performance.now());
    if (outcome === 'stopped') this.stoppedEarly = { count: this.handedOut, step: run.step };
    // Like `run.nextStep()` after each iteration by hand: a following loop starts on a new step.
    if (this.handedOut > 0 && this.steps) run.nextStep();
  }

  private leaveRun(): void {
    const run = this.run;
    runningLoops.set(run, Math.max(0, (runningLoops.get(run) ?? 1) - 1));
  }

  private finishProgress(outcome: LoopOutcome, count: number, now: number): void {
    try {
      this.reporter?.finish(outcome, count, now);
    } catch {
      // As in check(): progress is never worth an exception.
    }
    this.reporter = undefined;
  }

  /**
   * Left early (break, return, or an exception in the body: JavaScript does not say which), the
   * progress stops at once and says how the loop ended once that is known: `(failed)` when the
   * run has ended failed by then (the exit hooks saw an uncaught exception, or the program ended
   * it so) or `process.exitCode` is set, `(interrupted)` after Ctrl-C, else `(stopped early)`.
   * That is on the next turn of the event loop, or as soon as the run ends, whichever comes
   * first: an uncaught exception ends the run and the process before the next turn may come.
   */
  private finishProgressLater(count: number, now: number): void {
    const reporter = this.reporter;
    if (reporter === undefined) return;
    try {
      reporter.pause();
    } catch {
      this.reporter = undefined;
      return;
    }
    const run = this.run;
    const settle = () => {
      if (this.pendingProgress !== settle) return;
      this.pendingProgress = undefined;
      unregister();
      const status = run.status;
      const outcome: LoopOutcome =
        status === 'failed' || status === 'interrupted'
          ? status
          : process.exitCode
            ? 'failed'
            : 'stopped';
      this.finishProgress(outcome, count, now);
    };
    this.pendingProgress = settle;
    // Called as the run ends (before `done` is recorded): look once it is.
    const unregister = run.beforeFlush(() => {
      queueMicrotask(() => {
        if (run.ended) settle();
      });
    });
  }

  private endAfterLeavingEarly(): void {
    // An uncaught exception has ended the run as failed by now (exit hooks); leave it so.
    if (this.ending !== undefined || this.run.ended) return;
    void this.endOwnRun(process.exitCode ? 'failed' : 'completed');
  }

  private endOwnRun(status: RunStatus, options: EndOptions = {}): Promise<FlushReport> {
    if (this.ending !== undefined) return this.ending;
    const run = this.run;
    // Completed though the loop was left early: say so (a failed run carries its error instead).
    if (this.stoppedEarly !== undefined && status === 'completed' && !run.ended) {
      const { count, step } = this.stoppedEarly;
      const of = this.total === undefined ? '' : ` of ${this.total}`;
      run.annotate(
        `loop stopped early, in iteration ${count}${of} (break, return, or an exception the program caught)`,
        { step },
      );
    }
    const timeoutMs = options.timeoutMs ?? this.settings.endTimeoutMs;
    this.ending = run.end(status, timeoutMs === undefined ? options : { ...options, timeoutMs });
    return this.ending;
  }
}

/**
 * `track()` over an array, a count, or any iterable: use it in `for (const x of ...)`, or in
 * `for await`, which also gives the event loop its turns (see the top of this file).
 */
export class TrackedLoop<T>
  extends LoopBase<Iterator<T>>
  implements IterableIterator<T>, AsyncIterable<T>
{
  [Symbol.iterator](): this {
    this.enter();
    return this;
  }

  /** `for await`: the same values and steps, with a turn of the event loop when one is due. */
  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    this.enter();
    // One promise per value (no async function): `for await` already costs ~130 ns a value.
    const afterTurn = (): IteratorResult<T> =>
      this.stopIfRunEnded() ? this.return() : this.next();
    const iterator: AsyncIterableIterator<T> = {
      next: () => yieldToEventLoop().then(afterTurn),
      return: async (value?: unknown) => this.return(value),
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  next(): IteratorResult<T> {
    if (this.phase !== RUNNING && !this.beginIfReady()) return { done: true, value: undefined };
    let result: IteratorResult<T>;
    try {
      result = this.source.next();
    } catch (error) {
      this.finish('failed', error);
      throw error;
    }
    return this.advance(result);
  }

  /** Called by `break`, `return` and exceptions in the loop body. */
  return(value?: unknown): IteratorResult<T> {
    this.finish('stopped');
    this.source.return?.();
    return { done: true, value: value as T };
  }
}

/** `track()` over an async iterable (a stream, an async generator): use it in `for await`. */
export class AsyncTrackedLoop<T>
  extends LoopBase<AsyncIterator<T>>
  implements AsyncIterableIterator<T>
{
  [Symbol.asyncIterator](): this {
    this.enter();
    return this;
  }

  async next(): Promise<IteratorResult<T>> {
    if (this.phase !== RUNNING && !this.beginIfReady()) return { done: true, value: undefined };
    await yieldToEventLoop();
    if (this.stopIfRunEnded()) return this.closeSource();
    let result: IteratorResult<T>;
    try {
      result = await this.source.next();
    } catch (error) {
      this.finish('failed', error);
      throw error;
    }
    // The run ended while the source was waiting for its next value.
    if (result.done !== true && this.stopIfRunEnded()) return this.closeSource();
    return this.advance(result);
  }

  /** The loop is over without being left: close the source, as `for await` would on `break`. */
  private async closeSource(): Promise<IteratorResult<T>> {
    try {
      await this.source.return?.();
    } catch {
      // The loop stops anyway; a source that fails to close must not turn that into a failure.
    }
    return { done: true, value: undefined };
  }

  /** Called by `break`, `return` and exceptions in the loop body. */
  async return(value?: unknown): Promise<IteratorResult<T>> {
    // Progress stops at once; the run's end waits until the source has closed, so that an
    // exception on its way out reaches the exit hooks first (see the top of this file).
    this.finish('stopped', undefined, false);
    try {
      await this.source.return?.();
    } finally {
      this.scheduleEnd();
    }
    return { done: true, value: value as T };
  }
}
