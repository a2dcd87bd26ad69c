/**
 * Events a server refused for good (a 4xx, after splitting down to the events it still refuses)
 * are not dropped: they are kept in a file of their own, `<run id>.refused.jsonl` beside the
 * spool, in the JSONL record format, so `livestep sync` can deliver them once the server is fixed
 * (a schema the server got wrong, a body limit set too low). Each refusal starts with a header
 * line that carries the server's answer beside the run:
 *
 *   {"protocol":1,"run":{...},"refused":{"status":400,"message":"events[0].value: ...","at":...}}
 *
 * A reader of JSONL records takes it as a run header (it has `protocol` and `run`, no `kind`), so
 * the file replays like any record. This sink never replays it itself: the server said no.
 * Written synchronously: refusals are rare, and a refused batch must be on disk before the sink
 * lets go of it.
 */
import { closeSync, fstatSync, ftruncateSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Batch, RunIdentity } from '../protocol/events.js';
import { PROTOCOL_VERSION } from '../protocol/events.js';
import { serializeEventLine } from '../protocol/jsonl-record.js';

export interface Refusal {
  status: number;
  /** The server's message, as quoted in warnings (token removed, bounded). */
  message: string;
}

export class RefusalRecord {
  constructor(
    readonly path: string,
    readonly run: RunIdentity,
  ) {}

  /** Appends a refused batch after a header with the server's answer; throws if the disk fails. */
  append(batch: Batch, refusal: Refusal): void {
    let text = `${JSON.stringify({
      protocol: PROTOCOL_VERSION,
      run: this.run,
      refused: { status: refusal.status, message: refusal.message, at: Date.now() },
    })}\n`;
    for (const event of batch.events) text += serializeEventLine(event);
    mkdirSync(dirname(this.path), { recursive: true });
    const descriptor = openSync(this.path, 'a');
    try {
      const before = fstatSync(descriptor).size;
      try {
        writeFileSync(descriptor, text);
      } catch (error) {
        // Never half a record: a later header must start on a line of its own.
        try {
          ftruncateSync(descriptor, before);
        } catch {
          // The disk refuses even that.
        }
        throw error;
      }
    } finally {
      closeSync(descriptor);
    }
  }
}
