/**
 * The live stream's hub: after every commit, one Server-Sent Events frame per batch that changed
 * something (new points, a new state), to every subscriber of all runs or of that run.
 *
 * - Frame ids are `<server epoch>-<n>`, n counting frames. A reconnecting EventSource sends the
 *   last id it saw (Last-Event-ID) and gets every frame after it from a bounded ring of recent
 *   frames; when that is impossible (the frame fell out of the ring, or the server restarted) it
 *   gets a `reset` frame: reload from the query API, then follow the stream.
 * - A subscriber that does not read (a slow or stuck browser) is cut off once its socket holds
 *   `maxSubscriberBufferBytes` unsent; its EventSource reconnects and resumes from the ring. So
 *   no subscriber can grow the server's memory beyond that bound.
 * - A frame's text is written only when someone reads it: while nobody subscribes (a server
 *   ingesting from training jobs with no page open), the ring keeps each commit's data and a
 *   frame costs no JSON. Stringifying every commit's points was ~12% of the server's time under
 *   an ingest flood. The ring's byte bound counts a frame not yet written by an estimate of the
 *   memory its data holds, then by its text.
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { RunIdentity } from '@livestep/core/protocol';
import { stringifyReply } from '../http/json-reply.js';
import type { CommittedBatch, RunState } from '../storage/run-store.js';

/** Recent frames kept for resuming: at ~250 ms per batch per run, minutes of a busy server. */
export const DEFAULT_REPLAY_FRAMES = 10_000;
/** ...and at most this many bytes of them. */
export const DEFAULT_REPLAY_BYTES = 32 * 1024 * 1024;
/** Unsent bytes a subscriber's socket may hold before it is cut off (a 5,000-point frame is ~150 KB). */
export const DEFAULT_SUBSCRIBER_BUFFER_BYTES = 4 * 1024 * 1024;
/** A comment line this often keeps proxies from closing an idle stream. */
export const KEEP_ALIVE_MS = 15_000;
/** What an EventSource waits before reconnecting. */
const RECONNECT_MS = 1_000;
/**
 * Bytes a stored event is counted as in the ring while its frame is not written yet, at least:
 * ~45 characters of text once written. The store's own estimate of what the unwritten data
 * holds (`memoryBytes`: per series, not only per point) is counted when it is larger.
 */
const UNWRITTEN_EVENT_BYTES = 48;
/** ...and the rest of such a frame (run identity, state, counts). */
const UNWRITTEN_FRAME_BYTES = 512;

interface Frame {
  number: number;
  runId: string | undefined;
  event: string;
  /** Until the frame is written: what it says. Dropped once `text` is made. */
  data: (() => unknown) | undefined;
  text: string | undefined;
  /** What the ring counts for it: the estimate, then the text's length. */
  bytes: number;
}

interface Subscriber {
  response: ServerResponse;
  runId: string | undefined;
}

export interface LiveHubOptions {
  replayFrames?: number;
  replayBytes?: number;
  maxSubscriberBufferBytes?: number;
}

export class LiveHub {
  /** Changes at every start, so ids from before a restart are recognised as such. */
  readonly epoch = randomBytes(4).toString('hex');
  private readonly ring: Frame[] = [];
  private ringBytes = 0;
  private next = 1;
  private readonly subscribers = new Set<Subscriber>();
  private readonly keepAlive: NodeJS.Timeout;
  private readonly replayFrames: number;
  private readonly replayBytes: number;
  private readonly maxBuffer: number;
  /** Subscribers cut off for not reading, for tests and health. */
  droppedSubscribers = 0;

  constructor(options: LiveHubOptions = {}) {
    this.replayFrames = options.replayFrames ?? DEFAULT_REPLAY_FRAMES;
    this.replayBytes = options.replayBytes ?? DEFAULT_REPLAY_BYTES;
    this.maxBuffer = options.maxSubscriberBufferBytes ?? DEFAULT_SUBSCRIBER_BUFFER_BYTES;
    this.keepAlive = setInterval(() => {
      for (const subscriber of this.subscribers) this.write(subscriber, ': keep-alive\n\n');
    }, KEEP_ALIVE_MS);
    this.keepAlive.unref();
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  publishCommits(committed: CommittedBatch[]): void {
    for (const batch of committed) {
      if (batch.stored === 0 && !batch.stateChanged) continue;
      // Read only when written: a store may keep `points` compact until then.
      const data = () => {
        const frame: Record<string, unknown> = {
          run: batch.run,
          state: batch.state,
          points: batch.points,
        };
        if (Object.keys(batch.otherKinds).length > 0) frame.events = batch.otherKinds;
        return frame;
      };
      this.publish(
        'batch',
        batch.run.id,
        data,
        UNWRITTEN_FRAME_BYTES +
          Math.max(batch.memoryBytes ?? 0, batch.stored * UNWRITTEN_EVENT_BYTES),
      );
    }
  }

  publishState(run: RunIdentity, state: RunState): void {
    this.publish('state', run.id, () => ({ run, state }), UNWRITTEN_FRAME_BYTES);
  }

  private publish(event: string, runId: string, data: () => unknown, estimatedBytes: number): void {
    const frame: Frame = {
      number: this.next++,
      runId,
      event,
      data,
      text: undefined,
      bytes: estimatedBytes,
    };
    this.ring.push(frame);
    this.ringBytes += frame.bytes;
    this.trimRing();
    for (const subscriber of this.subscribers) {
      if (subscriber.runId === undefined || subscriber.runId === runId) {
        this.write(subscriber, this.textOf(frame));
      }
    }
  }

  /** The frame's text, made once, when the first subscriber needs it. */
  private textOf(frame: Frame): string {
    if (frame.text !== undefined) return frame.text;
    const text = `id: ${this.epoch}-${frame.number}\nevent: ${frame.event}\ndata: ${stringifyReply(frame.data!())}\n\n`;
    frame.text = text;
    frame.data = undefined;
    this.ringBytes += text.length - frame.bytes;
    frame.bytes = text.length;
    return text;
  }

  private trimRing(): void {
    while (
      this.ring.length > this.replayFrames ||
      (this.ringBytes > this.replayBytes && this.ring.length > 1)
    ) {
      this.ringBytes -= this.ring.shift()!.bytes;
    }
  }

  private write(subscriber: Subscriber, text: string): void {
    const { response } = subscriber;
    if (response.writableLength > this.maxBuffer) {
      // Not reading: cut off. Its EventSource reconnects and resumes from Last-Event-ID.
      this.droppedSubscribers++;
      this.subscribers.delete(subscriber);
      response.destroy();
      return;
    }
    response.write(text);
  }

  /** Starts streaming to `response`; resumes after `lastEventId` when given. */
  subscribe(
    response: ServerResponse,
    runId: string | undefined,
    lastEventId: string | undefined,
  ): void {
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    response.write(`retry: ${RECONNECT_MS}\n\n`);
    const subscriber: Subscriber = { response, runId };
    if (lastEventId !== undefined && lastEventId !== '') {
      const match = /^([0-9a-f]+)-(\d+)$/.exec(lastEventId.trim());
      const after = match?.[1] === this.epoch ? Number(match[2]) : undefined;
      const oldest = this.ring[0]?.number ?? this.next;
      if (after === undefined || after < oldest - 1 || after >= this.next) {
        const reason =
          match?.[1] !== this.epoch
            ? 'the server restarted since that event'
            : 'that event is older than the frames kept for resuming';
        response.write(`event: reset\ndata: ${JSON.stringify({ reason })}\n\n`);
      } else {
        for (const frame of this.ring) {
          if (frame.number > after && (runId === undefined || frame.runId === runId)) {
            response.write(this.textOf(frame));
          }
        }
        // Texts made for this replay may count more than their estimates did.
        this.trimRing();
      }
    }
    this.subscribers.add(subscriber);
    response.on('close', () => this.subscribers.delete(subscriber));
  }

  /** Ends every stream (at shutdown). */
  close(): void {
    clearInterval(this.keepAlive);
    for (const subscriber of this.subscribers) subscriber.response.end();
    this.subscribers.clear();
  }
}
