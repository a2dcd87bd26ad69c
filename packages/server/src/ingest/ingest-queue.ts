/**
 * The one writer between requests and the store. Requests hand over validated batches; the queue
 * commits what has gathered in one transaction (group commit: many small requests cost one
 * commit), then answers each request. So a request is acknowledged only after its events are
 * committed, and ingest memory is bounded: past `maxQueuedEvents` waiting, a request is refused
 * with 429 and Retry-After instead of queued, and the client's retry brings it later.
 */
import type { CommittedBatch, IngestBatch, RunStore } from '../storage/run-store.js';

/** Events a batch holds, each point of a metric-columns block counted as one. */
export function ingestBatchEvents(batch: IngestBatch): number {
  let count = batch.events.length;
  for (const columns of batch.metricColumns ?? []) count += columns.values.length;
  return count;
}

export interface IngestQueueOptions {
  /** Events waiting for a commit before new requests are refused (429). */
  maxQueuedEvents: number;
  /** Events in one transaction at most (a bigger backlog takes several). */
  maxEventsPerCommit: number;
}

interface Waiting {
  batch: IngestBatch;
  resolve: (result: CommittedBatch) => void;
  reject: (error: unknown) => void;
}

export class IngestQueue {
  private readonly waiting: Waiting[] = [];
  private queuedEvents = 0;
  private writing: Promise<void> | undefined;
  private listeners: Array<(committed: CommittedBatch[]) => void> = [];

  constructor(
    private readonly store: RunStore,
    private readonly options: IngestQueueOptions,
  ) {}

  /** Events waiting for a commit now. */
  get pendingEvents(): number {
    return this.queuedEvents;
  }

  /** Called after every commit, with what it stored. */
  onCommitted(listener: (committed: CommittedBatch[]) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Queues a batch; resolves once it is committed. Returns undefined when the queue is full (the
   * caller answers 429). A batch that arrives while nothing waits is always taken, whatever its
   * size (the body limit bounds it), so a large batch cannot be refused forever.
   */
  submit(batch: IngestBatch): Promise<CommittedBatch> | undefined {
    const size = ingestBatchEvents(batch);
    if (this.waiting.length > 0 && this.queuedEvents + size > this.options.maxQueuedEvents) {
      return undefined;
    }
    this.queuedEvents += size;
    const promise = new Promise<CommittedBatch>((resolve, reject) => {
      this.waiting.push({ batch, resolve, reject });
    });
    this.writing ??= this.write();
    return promise;
  }

  /** Resolves when everything queued so far is committed (or failed). */
  async drain(): Promise<void> {
    while (this.writing !== undefined) await this.writing;
  }

  /** Commits a group; if it fails, each batch alone, so one failing batch fails only itself. */
  private async commit(taken: Waiting[]): Promise<void> {
    let results: CommittedBatch[];
    try {
      results = await this.store.ingest(taken.map((item) => item.batch));
    } catch (error) {
      if (taken.length === 1) {
        taken[0]!.reject(error);
        return;
      }
      for (const item of taken) await this.commit([item]);
      return;
    }
    taken.forEach((item, index) => {
      item.resolve(results[index]!);
    });
    for (const listener of this.listeners) {
      try {
        listener(results);
      } catch {
        // A listener (the live stream) must never undo or fail an acknowledged commit.
      }
    }
  }

  private async write(): Promise<void> {
    // Let requests parsed in the same turn of the event loop join this commit.
    await new Promise((resolve) => setImmediate(resolve));
    try {
      while (this.waiting.length > 0) {
        const taken: Waiting[] = [];
        let events = 0;
        while (this.waiting.length > 0) {
          const next = this.waiting[0]!;
          if (
            taken.length > 0 &&
            events + ingestBatchEvents(next.batch) > this.options.maxEventsPerCommit
          ) {
            break;
          }
          taken.push(this.waiting.shift()!);
          events += ingestBatchEvents(next.batch);
        }
        await this.commit(taken);
        this.queuedEvents -= events;
      }
    } finally {
      this.writing = undefined;
    }
  }
}
