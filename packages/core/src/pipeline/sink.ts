import type { Batch } from '../protocol/events.js';

/**
 * Where a run's events go. A sink is a small object; the dispatcher calls `send` with one batch
 * at a time per sink, in order, and never holds the other sinks back while one is slow.
 *
 * `send` should resolve when the batch is stored (or acknowledged) and reject when it could not
 * be: a rejection counts the batch's events as failed for this sink, with the error's message as
 * the reason. Retries, if any, belong inside the sink. A `send` that returns no promise has
 * stored the batch (the file sinks) or taken it into its own custody (the HTTP sink) when it
 * returns, and may throw instead of rejecting: the dispatcher then hands it the next batch at
 * once, from the same call, so such a sink never queues in the dispatcher.
 */
export interface Sink {
  /** Shown in flush reports and warnings, e.g. "directory:./livestep". */
  readonly name: string;
  send(batch: Batch): Promise<void> | void;
  /**
   * Called by `run.flush()` after every batch was handed over. A sink that delivers in the
   * background (HTTP, Studio) resolves once everything is delivered or `deadline` (epoch ms) passed.
   */
  flush?(options: SinkDeadline): Promise<void> | void;
  /** Called once, by `run.end()`, after the final flush; same deadline rule. */
  close?(options: SinkDeadline): Promise<void> | void;
  /**
   * For sinks that accept batches into their own custody (a memory queue, a spool file) and
   * deliver later: what is still undelivered and what failed, merged into flush reports.
   */
  report?(): SinkDeliveryState;
  /**
   * Stores batches synchronously, for the last moment of a process (`process.exit()` was called
   * while a run was open) when no asynchronous work can finish. File sinks implement it.
   */
  sendSync?(batch: Batch): void;
}

export interface SinkDeadline {
  /** Epoch milliseconds by which the call should return. */
  deadline: number;
}

/** A sink's own account of delivery (see `Sink.report`). */
export interface SinkDeliveryState {
  /** Events accepted but not yet delivered (in memory or spooled). */
  pending: number;
  /** Of those, events kept in a spool file for a later replay (`livestep sync`). */
  spooled?: number;
  failedByReason?: Partial<Record<DropReason, number>>;
  lastError?: string;
  /** Where undelivered events are kept, if anywhere. */
  spoolPath?: string;
  /** Where events the receiver refused are kept with its message, if any were. */
  refusedPath?: string;
  /**
   * The command that delivers later what this sink kept but did not deliver (a spool, a run
   * folder), e.g. `npx livestep sync .livestep/spool/<run>.jsonl --to https://...`.
   */
  recoverWith?: string;
}

/** Why events did not reach a sink. */
export type DropReason =
  | 'queue_overflow'
  | 'send_error'
  | 'logged_after_end'
  /**
   * The receiver refused them (a 4xx other than 408/429), with its message. The HTTP sink keeps
   * them in `refusedPath`, to sync once the server is fixed.
   */
  | 'rejected'
  /** The spool file could not be written. */
  | 'spool_error';

export interface SinkReport {
  sink: string;
  /** Events the sink confirmed. */
  delivered: number;
  /** Events handed over or queued, not yet confirmed. */
  pending: number;
  /** Events the sink will never get, by reason. */
  failed: number;
  failedByReason: Partial<Record<DropReason, number>>;
  /** The last error message the sink gave, if any. */
  lastError?: string;
  /** Events kept in a spool file for a later replay, if the sink spools. */
  spooled?: number;
  spoolPath?: string;
  /** Where refused events are kept, with the receiver's message (see SinkDeliveryState). */
  refusedPath?: string;
  /** How to deliver later what is kept but undelivered (see SinkDeliveryState). */
  recoverWith?: string;
}

/** What `flush()` and `end()` tell about delivery: all good when `pending` and `failed` are 0. */
export interface FlushReport {
  ok: boolean;
  pending: number;
  failed: number;
  sinks: SinkReport[];
}
