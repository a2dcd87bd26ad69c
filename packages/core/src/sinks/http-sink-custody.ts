/**
 * Where the HTTP sink keeps what it has not delivered: batches in memory, in order, up to the
 * sink's bound; past it, or while the server stays unreachable, the spool file (`<run id>.jsonl`,
 * replayed in order when the server is back, left for `livestep sync` at exit); and what the
 * server refused for good, with its message, in `<run id>.refused.jsonl`. Every write is
 * synchronous (see spool.ts), so `send` can take custody even in a loop that never yields.
 */
import { join } from 'node:path';
import { RefusalRecord } from '../delivery/refusal-record.js';
import type { PermanentOutcome } from '../delivery/request-outcome.js';
import { Spool } from '../delivery/spool.js';
import { errorMessage } from '../pipeline/dispatcher.js';
import type { DropReason } from '../pipeline/sink.js';
import type { Batch } from '../protocol/events.js';

export class HttpSinkCustody {
  /** Batches not yet acknowledged, oldest first. */
  readonly memory: Batch[] = [];
  memoryEvents = 0;
  spool: Spool | undefined;
  spoolEvents = 0;
  /** True while batches go to the spool (and are replayed from it) instead of memory. */
  spooling = false;
  refusalRecord: RefusalRecord | undefined;

  constructor(
    readonly spoolDirectory: string,
    private readonly warnOnce: (key: string, message: string) => void,
    private readonly countFailed: (reason: DropReason, count: number, message: string) => void,
  ) {}

  pending(): number {
    return this.memoryEvents + this.spoolEvents;
  }

  /** Takes a batch into memory; returns the events now held there. */
  hold(batch: Batch): number {
    this.memory.push(batch);
    this.memoryEvents += batch.events.length;
    return this.memoryEvents;
  }

  /** Everything held in memory, out of it, in order. */
  takeMemory(): Batch[] {
    this.memoryEvents = 0;
    return this.memory.splice(0);
  }

  /** The first `taken` batches (`events` events) were acknowledged. */
  release(taken: number, events: number): void {
    this.memory.splice(0, taken);
    this.memoryEvents -= events;
  }

  spoolPathFor(batch: Batch): string {
    return join(this.spoolDirectory, `${batch.run.id}.jsonl`);
  }

  private spoolFor(batch: Batch): Spool {
    this.spool ??= new Spool(this.spoolPathFor(batch), batch.run);
    return this.spool;
  }

  /**
   * Writes batches to the spool, synchronously (see spool.ts); they count as spooled, or as
   * failed (`spool_error`) when the disk refuses them.
   */
  toSpool(batches: Batch[]): void {
    for (const batch of batches) {
      const count = batch.events.length;
      try {
        this.spoolFor(batch).append(batch);
        this.spoolEvents += count;
      } catch (error) {
        this.countFailed('spool_error', count, `cannot write the spool: ${errorMessage(error)}`);
        this.warnOnce(
          'spool_error',
          `livestep: http sink cannot write its spool file ${this.spool?.path ?? this.spoolDirectory}: ${errorMessage(error)}; events it cannot deliver now are lost (the file sinks still have them)`,
        );
      }
    }
  }

  /**
   * Moves everything held in memory to the spool, keeping order; later batches follow it there.
   * `reason`, when given, is told once (with the file and the promise of a replay).
   */
  spill(reason?: string): void {
    const batches = this.takeMemory();
    if (!this.spooling && reason !== undefined) {
      const path = batches[0] === undefined ? this.spool?.path : this.spoolFor(batches[0]).path;
      this.warnOnce(
        'spill',
        `livestep: ${reason}; keeping events in ${path ?? this.spoolDirectory} and replaying them when the server is back`,
      );
    }
    this.spooling = true;
    this.toSpool(batches);
  }

  /** Keeps what the server refused for good, with its message, for a sync once it is fixed. */
  keepRefused(batch: Batch, outcome: PermanentOutcome): void {
    const count = batch.events.length;
    this.refusalRecord ??= new RefusalRecord(
      join(this.spoolDirectory, `${batch.run.id}.refused.jsonl`),
      batch.run,
    );
    const path = this.refusalRecord.path;
    this.countFailed('rejected', count, outcome.reason);
    try {
      this.refusalRecord.append(batch, { status: outcome.status, message: outcome.message });
    } catch (error) {
      this.warnOnce(
        'refusal_record_error',
        `livestep: the server refused ${count} events (${outcome.reason}) and they cannot be kept in ${path}: ${errorMessage(error)}; they are lost here (the file sinks still have them)`,
      );
      return;
    }
    this.warnOnce(
      `refused:${outcome.status}`,
      `livestep: the server refused ${count} events: ${outcome.reason}. They are kept in ${path}; once the server takes them, deliver them with \`livestep sync ${path}\``,
    );
  }
}
