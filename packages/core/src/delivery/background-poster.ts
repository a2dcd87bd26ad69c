/**
 * The part of a tracker sink that is the same for every tracker (MLflow, Dioptra, ClearML): the
 * sink's `send` queues and returns at once, and one background loop posts what is queued,
 * strictly in order, one request at a time, through the kit's retry loop. This holds that loop
 * and its bookkeeping, so each sink keeps only what is its own: how a batch becomes requests, the
 * tracker's status rules, its login and its end-of-run call.
 *
 * - `next()` of the sink's work sends one thing (a login, a data request, the run's end) and says
 *   whether there is more; the poster loops over it while it is not stopped.
 * - What failed is counted by reason (the flush report's `failedByReason`), with the last error,
 *   redacted. `disable` stops posting for good (refused credentials, a run that is gone): what is
 *   queued is counted as failed and later batches are too.
 * - `flush` and `close` wait for the queue to drain within their deadline, waking a loop that
 *   waits out a post interval (`pause`). At close a reserve of the deadline is kept for the run's
 *   end (`finishLate`), so a tracker that is slow with the data still hears how the run ended.
 */
import type { DropReason, Sink, SinkDeliveryState } from '../pipeline/sink.js';
import type { Batch } from '../protocol/events.js';
import { abortableSleep } from './abortable-sleep.js';
import { deliverWithRetry } from './deliver-with-retry.js';
import type { PermanentOutcome, RequestOutcome } from './request-outcome.js';
import type { RetryPolicy } from './retry-policy.js';
import { createIdleWaiter } from './wait-until.js';
import { createThrottledWarning, createWarnOnce, type Warn } from './warn-once.js';

/** What the sink's own code does on the poster's loop. */
export interface PosterWork {
  /** Sends what comes next (one request or a few); false when nothing is left for now. */
  next(): Promise<boolean>;
  /** Events not yet at the tracker: queued ones, and the run's start or end not yet taken. */
  pending(): number;
  /**
   * Drops every queued event and returns how many there were: the run's end is not among them
   * (at close it is `finishLate`'s to send or count).
   */
  discard(): number;
  /**
   * At close, when the data did not all go by the data deadline: the run's last call (its
   * status), within `deadline`, under `signal`. It counts its own failure.
   */
  finishLate?(signal: AbortSignal, deadline: number): Promise<void>;
}

export interface BackgroundPosterOptions {
  /** The tracker's name in messages: `MLflow`, `Dioptra`, `ClearML`. */
  tracker: string;
  policy: RetryPolicy;
  /** Takes every secret the sink holds out of a text (it may learn new ones: read each time). */
  redact: (text: string) => string;
  warn: Warn;
  /** "retrying" is said at most this often. */
  retryWarningIntervalMs: number;
  /**
   * At close, data delivery stops this long (at most half the time left) before the deadline:
   * time for the run's end (`finishLate`), and to count and say what is left before the run
   * stops waiting for the sink.
   */
  closeReserveMs: number;
  /** The warning when events were left at close: how many, and where they still are. */
  leftAtClose: (left: number, lastError: string) => string;
}

/** How one request ended: taken, given up (stopped, or past the deadline), or refused for good. */
export type Posted =
  | { kind: 'delivered' }
  | { kind: 'stopped' }
  | { kind: 'permanent'; outcome: PermanentOutcome };

export type Attempt = (signal: AbortSignal, timeoutMs: number) => Promise<RequestOutcome>;

export class BackgroundPoster {
  private readonly failedByReason: Partial<Record<DropReason, number>> = {};
  private lastErrorText: string | undefined;
  private disabledReason: DropReason = 'send_error';
  private isDisabled = false;
  private isClosing = false;
  /** Close passed its deadline: what is left was counted as failed. */
  private givenUp = false;
  private closed: Promise<void> | undefined;
  /** Data requests and their retries never go past this (set at close). */
  private dataDeadline = Number.POSITIVE_INFINITY;
  private readonly stopData = new AbortController();
  private looping = false;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly idle = createIdleWaiter();
  /** flush() and close() calls under way: a post interval is not waited then. */
  private hurrying = 0;
  private wakeSleep: (() => void) | undefined;
  private work: PosterWork | undefined;
  readonly warnOnce: (key: string, message: string) => void;
  private readonly warnRetrying: Warn;

  constructor(
    private readonly options: BackgroundPosterOptions,
    private readonly requestTimeoutMs: number,
  ) {
    // Redaction is read at each use: a sink may learn a secret (a token, a cookie) later.
    const redact = (text: string) => options.redact(text);
    this.warnOnce = createWarnOnce(options.warn, redact);
    this.warnRetrying = createThrottledWarning(
      options.warn,
      options.retryWarningIntervalMs,
      redact,
    );
  }

  /** The sink's work; set once, before the first batch. */
  attach(work: PosterWork): void {
    this.work = work;
  }

  get disabled(): boolean {
    return this.isDisabled;
  }

  get closing(): boolean {
    return this.isClosing;
  }

  /** A flush or the close wants everything now: a request that is not full goes at once. */
  get hurried(): boolean {
    return this.hurrying > 0 || this.isClosing;
  }

  get lastError(): string | undefined {
    return this.lastErrorText;
  }

  /** The abort signal of data delivery (aborted when posting stops). */
  get signal(): AbortSignal {
    return this.stopData.signal;
  }

  noteError(message: string): void {
    this.lastErrorText = this.options.redact(message);
  }

  countFailed(reason: DropReason, count: number): void {
    if (count > 0) this.failedByReason[reason] = (this.failedByReason[reason] ?? 0) + count;
  }

  /**
   * Whether a batch may still be queued; if not, its `count` events are counted as failed (posting
   * stopped, or the run already closed).
   */
  accepts(count: number): boolean {
    if (!this.isDisabled && !this.isClosing) return true;
    this.countFailed(this.isDisabled ? this.disabledReason : 'logged_after_end', count);
    return false;
  }

  /**
   * Stops posting for good: every event not yet at the tracker (queued, and the run's start and
   * end not taken) is counted as failed under `reason`.
   */
  disable(reason: DropReason, message: string, key: string): void {
    if (this.isDisabled) return;
    const left = this.work?.pending() ?? 0;
    this.work?.discard();
    this.countFailed(reason, left);
    this.isDisabled = true;
    this.disabledReason = reason;
    this.noteError(message);
    this.warnOnce(key, message);
    this.stopData.abort();
  }

  /** Stops posting after a refusal that no later request can get past. */
  stopAfter(outcome: PermanentOutcome): void {
    this.disable(
      'rejected',
      `livestep: ${outcome.reason}; nothing more is sent to ${this.options.tracker} in this run (the run folder has everything)`,
      `stop:${outcome.status}`,
    );
  }

  /**
   * One request until the tracker takes it, refuses it for good, or delivery stops (the data
   * deadline, or posting stopped); `signal` and `deadline` default to data delivery's.
   */
  async post(
    attempt: Attempt,
    bounds: { signal?: AbortSignal; deadline?: () => number } = {},
  ): Promise<Posted> {
    if (this.isDisabled) return { kind: 'stopped' };
    const result = await deliverWithRetry(undefined, {
      policy: this.options.policy,
      signal: bounds.signal ?? this.stopData.signal,
      deadline: bounds.deadline ?? (() => this.dataDeadline),
      attempt: (_, context) =>
        attempt(
          context.signal,
          Math.max(1, Math.ceil(Math.min(this.requestTimeoutMs, context.deadline - Date.now()))),
        ),
      onRetry: ({ outcome }) => {
        this.noteError(outcome.reason);
        this.warnRetrying(
          `livestep: ${this.options.tracker} did not take a request (${outcome.reason}); retrying with backoff, the data is kept meanwhile`,
        );
      },
    });
    if (result.verdict === 'delivered') return { kind: 'delivered' };
    if (result.verdict === 'stopped') {
      // A request cut off by the stop itself says nothing about the tracker: the error before it stays.
      const last = result.last;
      if (last !== undefined && !(result.why === 'aborted' && last.reason === 'stopped')) {
        this.noteError(last.reason);
      }
      return { kind: 'stopped' };
    }
    return { kind: 'permanent', outcome: result.outcome };
  }

  /** Waits `milliseconds`, unless a flush, the close or a stop wants everything now. */
  pause(milliseconds: number): Promise<void> {
    const wake = new AbortController();
    this.wakeSleep = () => wake.abort();
    return abortableSleep(
      milliseconds,
      AbortSignal.any([wake.signal, this.stopData.signal]),
    ).finally(() => {
      this.wakeSleep = undefined;
    });
  }

  /** Starts the loop if it is not running (after a batch was queued). */
  kick(): void {
    if (this.looping || this.isDisabled || this.stopData.signal.aborted) return;
    this.loopDone = this.loop();
  }

  pending(): number {
    if (this.isDisabled || this.givenUp) return 0;
    return this.work?.pending() ?? 0;
  }

  async flush(deadline: number): Promise<void> {
    this.hurrying++;
    this.wakeSleep?.();
    try {
      await this.idle.waitUntil(
        () => this.settled(),
        deadline,
        () => this.kick(),
      );
    } finally {
      this.hurrying--;
    }
  }

  close(deadline: number): Promise<void> {
    this.closed ??= this.closeOnce(deadline);
    return this.closed;
  }

  report(): SinkDeliveryState {
    const report: SinkDeliveryState = {
      pending: this.pending(),
      failedByReason: { ...this.failedByReason },
    };
    if (this.lastErrorText !== undefined) report.lastError = this.lastErrorText;
    return report;
  }

  private settled(): boolean {
    return this.isDisabled || this.pending() === 0;
  }

  private async loop(): Promise<void> {
    const work = this.work;
    if (work === undefined) return;
    this.looping = true;
    try {
      while (!this.isDisabled && !this.stopData.signal.aborted) {
        if (!(await work.next())) return;
      }
    } catch (error) {
      this.noteError(error instanceof Error ? error.message : String(error));
      this.warnOnce(
        `loop:${this.lastErrorText}`,
        `livestep: the ${this.options.tracker} sink stopped posting: ${this.lastErrorText}`,
      );
    } finally {
      this.looping = false;
      this.idle.wake();
    }
  }

  private async closeOnce(deadline: number): Promise<void> {
    this.isClosing = true;
    this.wakeSleep?.();
    const reserve = Math.min(this.options.closeReserveMs, Math.max(0, deadline - Date.now()) / 2);
    this.dataDeadline = deadline - reserve;
    await this.idle.waitUntil(
      () => this.settled(),
      this.dataDeadline,
      () => this.kick(),
    );
    if (this.settled()) return;
    this.stopData.abort();
    await this.loopDone;
    const left = this.work?.discard() ?? 0;
    if (left > 0) {
      this.countFailed('send_error', left);
      this.warnOnce(
        'left_at_close',
        this.options.leftAtClose(left, this.lastErrorText ?? 'no answer before the deadline'),
      );
    }
    if (this.work?.finishLate !== undefined && !this.isDisabled) {
      // Whole milliseconds: AbortSignal.timeout throws on a fraction (a deadline may carry one).
      const left = Math.max(1, Math.ceil(deadline - Date.now()));
      await this.work.finishLate(AbortSignal.timeout(left), deadline);
    }
    this.givenUp = true;
  }
}

/** A tracker sink: its own `send` (which queues and kicks), the poster's flush, close and report. */
export function posterSink(
  name: string,
  poster: BackgroundPoster,
  send: (batch: Batch) => void,
): Sink {
  return {
    name,
    send,
    flush: ({ deadline }) => poster.flush(deadline),
    close: ({ deadline }) => poster.close(deadline),
    report: () => poster.report(),
  };
}
