/**
 * The dispatcher turns a stream of events into batches and hands every batch to every sink.
 *
 * A logging call only pushes onto an array (O(1), no I/O). Batches are sealed when they fill or
 * after a short interval: by an unref'd timer (so a finished script still exits by itself), or by
 * the first logging call after the interval has passed, because a training loop that never yields
 * to the event loop never lets that timer fire. Each sink has its own lane: one batch in flight at
 * a time, in order, with a bounded queue, so a slow or failing sink never holds back the others
 * or the training loop. A sink whose `send` returns no promise (the file sinks) stored the batch
 * when it returns: its lane hands it the next one at once, so it never queues and never drops.
 */
import type { Batch, RunEvent, RunIdentity } from '../protocol/events.js';
import { PROTOCOL_VERSION } from '../protocol/events.js';
import type { DropReason, FlushReport, Sink, SinkReport } from './sink.js';

/** Seal a batch this long after its first event: live enough for a dashboard, cheap enough for a file. */
export const DEFAULT_FLUSH_INTERVAL_MS = 250;
/** Seal a batch when it holds this many events, so one request or write stays a sensible size. */
export const DEFAULT_MAX_BATCH_EVENTS = 1_000;
/**
 * Events a sink may have waiting before data points are dropped (and counted). About 190 bytes an
 * event in memory (measured by bench/src/stuck-sink-memory.mjs), this bounds a stuck sink's queue
 * to about 50 MB.
 */
export const DEFAULT_MAX_QUEUED_EVENTS = 250_000;

export interface DispatcherOptions {
  run: RunIdentity;
  sinks: readonly Sink[];
  flushIntervalMs?: number;
  maxBatchEvents?: number;
  maxQueuedEvents?: number;
  warn: (message: string) => void;
}

export class Dispatcher {
  private readonly run: RunIdentity;
  private readonly lanes: SinkLane[];
  private readonly flushIntervalMs: number;
  private readonly maxBatchEvents: number;
  private events: RunEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** When the batch being filled is due, in epoch ms: the first event's time plus the interval. */
  private sealDueAt = Number.POSITIVE_INFINITY;

  constructor(options: DispatcherOptions) {
    this.run = options.run;
    this.flushIntervalMs = options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS;
    this.maxBatchEvents = options.maxBatchEvents ?? DEFAULT_MAX_BATCH_EVENTS;
    const maxQueuedEvents = options.maxQueuedEvents ?? DEFAULT_MAX_QUEUED_EVENTS;
    this.lanes = options.sinks.map((sink) => new SinkLane(sink, maxQueuedEvents, options.warn));
  }

  /**
   * False when every sink's queue is full: a data point would be dropped by all of them, so the
   * caller need not build it. Cheap: a loop over the (few) lanes.
   */
  hasRoomForData(): boolean {
    const unsealed = this.events.length;
    for (const lane of this.lanes) if (lane.hasRoom(unsealed)) return true;
    return this.lanes.length === 0;
  }

  /**
   * Adds an event to the batch being filled. `now` is the current time in epoch ms: the event's
   * own `ts` unless the caller stamped it with an earlier time of measurement.
   */
  push(event: RunEvent, now: number = event.ts): void {
    const events = this.events;
    if (events.length === 0) this.sealDueAt = now + this.flushIntervalMs;
    events.push(event);
    // A full batch is sealed at once, and the timer is left running: clearing and re-arming it
    // for every full batch cost more than the batch at high rates. When it fires it seals what
    // came since, which is younger than the interval: a batch may go early, never late. An
    // overdue batch is sealed here: the timer cannot fire while the program never yields.
    if (events.length >= this.maxBatchEvents || now >= this.sealDueAt) this.sealBatch();
    else if (this.timer === undefined) {
      this.timer = setTimeout(this.sealOnTimer, this.flushIntervalMs);
      this.timer.unref();
    }
  }

  private readonly sealOnTimer = (): void => {
    this.timer = undefined;
    this.sealBatch();
  };

  /** Closes the batch being filled and hands it to every sink; no timer is left behind. */
  seal(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.sealBatch();
  }

  private sealBatch(): void {
    this.sealDueAt = Number.POSITIVE_INFINITY;
    if (this.events.length === 0) return;
    const batch: Batch = { protocol: PROTOCOL_VERSION, run: this.run, events: this.events };
    this.events = [];
    for (const lane of this.lanes) lane.enqueue(batch);
  }

  /** Counts events that never entered the pipeline (e.g. logged after the run ended). */
  countDropped(reason: DropReason, count: number): void {
    for (const lane of this.lanes) {
      if (reason === 'queue_overflow') lane.countOverflow(count);
      else lane.countFailed(reason, count);
    }
  }

  /** Seals, waits until every sink took every batch (or the timeout passed), then flushes the sinks. */
  async flush(timeoutMs: number): Promise<FlushReport> {
    this.seal();
    const deadline = Date.now() + timeoutMs;
    await Promise.all(
      this.lanes.map(async (lane) => {
        if (await lane.waitUntilIdle(deadline)) await lane.flushSink(deadline);
      }),
    );
    return this.report();
  }

  /** Flushes, then closes every sink. Used once, by `end()`. */
  async close(timeoutMs: number): Promise<FlushReport> {
    this.seal();
    const deadline = Date.now() + timeoutMs;
    await Promise.all(
      this.lanes.map(async (lane) => {
        if (await lane.waitUntilIdle(deadline)) await lane.closeSink(deadline);
      }),
    );
    const report = this.report();
    // A run object may live on after end(); a stuck sink's queue must not.
    for (const lane of this.lanes) lane.abandon();
    return report;
  }

  /** Last resort at process exit: hands what is still queued to the sinks that can store it synchronously. */
  flushSync(): void {
    this.seal();
    for (const lane of this.lanes) lane.sendQueuedSync();
  }

  report(): FlushReport {
    const sinks = this.lanes.map((lane) => lane.report(this.events.length));
    const pending = sinks.reduce((total, sink) => total + sink.pending, 0);
    const failed = sinks.reduce((total, sink) => total + sink.failed, 0);
    return { ok: pending === 0 && failed === 0, pending, failed, sinks };
  }
}

/** Events that describe the run rather than add data points: never dropped for lack of room. */
function isRunDescription(event: RunEvent): boolean {
  return event.kind === 'start' || event.kind === 'done' || event.kind === 'params';
}

function isPromiseLike(value: unknown): value is Promise<void> {
  return typeof (value as PromiseLike<void> | undefined)?.then === 'function';
}

/** Waits for a promise until an absolute deadline; resolves true if it settled in time. */
function settlesBefore(promise: Promise<unknown>, deadline: number): Promise<boolean> {
  return new Promise((resolve) => {
    // Ref'd on purpose: code awaiting flush() or end() must get its answer, even when a stuck
    // sink holds nothing else open; the deadline bounds the wait.
    const timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
    promise.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(true);
      },
    );
  });
}

class SinkLane {
  private readonly queue: Batch[] = [];
  private queuedEvents = 0;
  private sending = false;
  private delivered = 0;
  private failed = 0;
  private readonly failedByReason: Partial<Record<DropReason, number>> = {};
  private lastError: string | undefined;
  private readonly warnedAbout = new Set<string>();
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly sink: Sink,
    private readonly maxQueuedEvents: number,
    private readonly warn: (message: string) => void,
  ) {}

  hasRoom(unsealedEvents: number): boolean {
    return this.queuedEvents + unsealedEvents < this.maxQueuedEvents;
  }

  /** After the final deadline: forget what could not be delivered (it stays counted as pending). */
  abandon(): void {
    this.queue.length = 0;
  }

  enqueue(batch: Batch): void {
    let accepted = batch;
    if (this.queuedEvents + batch.events.length > this.maxQueuedEvents) {
      const kept = batch.events.filter(isRunDescription);
      this.countOverflow(batch.events.length - kept.length);
      if (kept.length === 0) return;
      accepted = { ...batch, events: kept };
    }
    this.queue.push(accepted);
    this.queuedEvents += accepted.events.length;
    this.pump();
  }

  /** Hands queued batches to the sink: at once while it stores synchronously, else one at a time. */
  private pump(): void {
    while (!this.sending) {
      const batch = this.queue.shift();
      if (batch === undefined) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const wake of waiters) wake();
        return;
      }
      const count = batch.events.length;
      let sent: Promise<void> | void;
      try {
        sent = this.sink.send(batch);
      } catch (error) {
        this.recordSendError(count, error);
        this.queuedEvents -= count;
        continue;
      }
      if (!isPromiseLike(sent)) {
        // Stored (or taken into the sink's own custody) by the time send returned.
        this.delivered += count;
        this.queuedEvents -= count;
        continue;
      }
      this.sending = true;
      sent
        .then(
          () => {
            this.delivered += count;
          },
          (error: unknown) => this.recordSendError(count, error),
        )
        .then(() => {
          this.queuedEvents -= count;
          this.sending = false;
          this.pump();
        });
    }
  }

  private recordSendError(count: number, error: unknown): void {
    this.countFailed('send_error', count);
    this.lastError = errorMessage(error);
    this.warnOnce(
      `send_error:${this.lastError}`,
      `livestep: sink "${this.sink.name}" failed to store ${count} event${count === 1 ? '' : 's'}: ${this.lastError}`,
    );
  }

  countOverflow(count: number): void {
    this.countFailed('queue_overflow', count);
    this.warnOnce(
      'queue_overflow',
      `livestep: sink "${this.sink.name}" is not keeping up; more than ${this.maxQueuedEvents} events are waiting, so new data points are dropped (and counted) until it catches up`,
    );
  }

  countFailed(reason: DropReason, count: number): void {
    if (count <= 0) return;
    this.failed += count;
    this.failedByReason[reason] = (this.failedByReason[reason] ?? 0) + count;
  }

  private warnOnce(key: string, message: string): void {
    if (this.warnedAbout.has(key)) return;
    this.warnedAbout.add(key);
    this.warn(message);
  }

  /** Resolves true once nothing is queued or in flight, false if the deadline came first. */
  waitUntilIdle(deadline: number): Promise<boolean> {
    if (!this.sending && this.queue.length === 0) return Promise.resolve(true);
    return settlesBefore(new Promise<void>((resolve) => this.idleWaiters.push(resolve)), deadline);
  }

  async flushSink(deadline: number): Promise<void> {
    await this.callSink('flush', deadline);
  }

  async closeSink(deadline: number): Promise<void> {
    await this.callSink('close', deadline);
  }

  private async callSink(method: 'flush' | 'close', deadline: number): Promise<void> {
    const call = this.sink[method];
    if (call === undefined) return;
    try {
      await settlesBefore(
        Promise.resolve(call.call(this.sink, { deadline })).catch((error: unknown) => {
          this.lastError = errorMessage(error);
          this.warnOnce(
            `${method}:${this.lastError}`,
            `livestep: sink "${this.sink.name}" failed to ${method}: ${this.lastError}`,
          );
        }),
        deadline,
      );
    } catch (error) {
      this.lastError = errorMessage(error);
    }
  }

  sendQueuedSync(): void {
    const sendSync = this.sink.sendSync;
    if (sendSync === undefined) return;
    while (this.queue.length > 0) {
      const batch = this.queue.shift()!;
      try {
        sendSync.call(this.sink, batch);
        this.delivered += batch.events.length;
      } catch (error) {
        this.countFailed('send_error', batch.events.length);
        this.lastError = errorMessage(error);
      }
      this.queuedEvents -= batch.events.length;
    }
  }

  report(unsealedEvents: number): SinkReport {
    const report: SinkReport = {
      sink: this.sink.name,
      delivered: this.delivered,
      pending: this.queuedEvents + unsealedEvents,
      failed: this.failed,
      failedByReason: { ...this.failedByReason },
    };
    if (this.lastError !== undefined) report.lastError = this.lastError;
    // A sink that delivers in the background knows better what "delivered" means.
    const own = this.sink.report?.();
    if (own !== undefined) {
      report.pending += own.pending;
      report.delivered -= own.pending;
      for (const [reason, count] of Object.entries(own.failedByReason ?? {})) {
        report.failed += count;
        report.delivered -= count;
        const key = reason as DropReason;
        report.failedByReason[key] = (report.failedByReason[key] ?? 0) + count;
      }
      if (own.lastError !== undefined) report.lastError = own.lastError;
      if (own.spooled !== undefined) report.spooled = own.spooled;
      if (own.spoolPath !== undefined) report.spoolPath = own.spoolPath;
      if (own.refusedPath !== undefined) report.refusedPath = own.refusedPath;
      if (own.recoverWith !== undefined) report.recoverWith = own.recoverWith;
    }
    return report;
  }
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
