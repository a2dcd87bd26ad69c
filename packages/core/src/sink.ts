import type { Batch } from './protocol.js';

/**
 * Where a run's events go. A sink is a small object; the dispatcher calls `send` with one batch
 * at a time per sink, in order, and never holds the other sinks back while one is slow.
 *
 * `send` should resolve when the batch is stored (or acknowledged) and reject when it could not
 * be: a rejection counts the batch's events as failed for this sink, with the error's message as
 * the reason. Retries, if any, belong inside the sink.
 */
export interface Sink {
  /** Shown in flush reports and warnings, e.g. "directory:./livestep". */
  readonly name: string;
  send(batch: Batch): Promise<void> | void;
  /** Called by `run.flush()` after every batch was handed over. */
  flush?(): Promise<void> | void;
  /** Called once, by `run.end()`, after the final flush. */
  close?(): Promise<void> | void;
  /**
   * Stores batches synchronously, for the last moment of a process (`process.exit()` was called
   * while a run was open) when no asynchronous work can finish. File sinks implement it.
   */
  sendSync?(batch: Batch): void;
}

/** Why events did not reach a sink. */
export type DropReason = 'queue_overflow' | 'send_error' | 'logged_after_end';

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
}

/** What `flush()` and `end()` tell about delivery: all good when `pending` and `failed` are 0. */
export interface FlushReport {
  ok: boolean;
  pending: number;
  failed: number;
  sinks: SinkReport[];
}
