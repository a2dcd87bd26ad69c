/**
 * The live stream (/api/v1/stream, Server-Sent Events): a `batch` frame per committed batch, a
 * `state` frame when a run goes stale or interrupted, a `reset` frame when the server cannot
 * resume from the last frame seen (it restarted, or the frame is too old): then everything shown
 * is reloaded from the query API, and the stream followed again.
 *
 * EventSource resumes by itself with Last-Event-ID; when it gives up (readyState CLOSED, e.g. the
 * server answered 401 or 503 while restarting), a new one is opened after a pause, resuming from
 * the last id through the `lastEventId` query parameter.
 */
import type { BatchFrame, RunState } from './api-types.js';

/** Wait before reopening a stream that the browser closed for good. */
const REOPEN_MS = 1_000;

export interface StreamHandlers {
  batch(frame: BatchFrame): void;
  state(run: { id: string }, state: RunState): void;
  reset(): void;
  status(connected: boolean): void;
}

export interface LiveStream {
  close(): void;
  /** Frames received, for the page's test hooks. */
  readonly frames: number;
}

export function openLiveStream(handlers: StreamHandlers): LiveStream {
  let source: EventSource | undefined;
  let lastId = '';
  let frames = 0;
  let closed = false;
  let reopen: ReturnType<typeof setTimeout> | undefined;

  const open = () => {
    const url =
      lastId === '' ? '/api/v1/stream' : `/api/v1/stream?lastEventId=${encodeURIComponent(lastId)}`;
    const stream = new EventSource(url, { withCredentials: true });
    source = stream;
    const seen = (event: MessageEvent) => {
      if (event.lastEventId) lastId = event.lastEventId;
      frames++;
    };
    stream.addEventListener('open', () => handlers.status(true));
    stream.addEventListener('batch', (event) => {
      seen(event as MessageEvent);
      handlers.batch(JSON.parse((event as MessageEvent).data) as BatchFrame);
    });
    stream.addEventListener('state', (event) => {
      seen(event as MessageEvent);
      const data = JSON.parse((event as MessageEvent).data) as {
        run: { id: string };
        state: RunState;
      };
      handlers.state(data.run, data.state);
    });
    stream.addEventListener('reset', () => {
      frames++;
      handlers.reset();
    });
    stream.addEventListener('error', () => {
      handlers.status(false);
      if (stream.readyState === EventSource.CLOSED && !closed) {
        reopen = setTimeout(open, REOPEN_MS);
      }
    });
  };
  open();

  return {
    close() {
      closed = true;
      clearTimeout(reopen);
      source?.close();
    },
    get frames() {
      return frames;
    },
  };
}
