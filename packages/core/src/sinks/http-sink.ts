/**
 * The HTTP sink streams protocol v1 batches to a livestep server (LIVESTEP_URL), and loses nothing
 * while its spool can be written, whether the server is slow, down, restarting or refusing:
 *
 * - `send` takes custody and returns, so the dispatcher never waits on the network; a
 *   background loop posts batches in order: from memory, up to two requests of metric points
 *   at once while the server answers (see deliverFromMemory), anything else alone; from the
 *   spool, one at a time. Up to `maxMemoryEvents` wait in
 *   memory; past that, and while a spool is in use, `send` appends each batch to the spool file
 *   synchronously (one write per batch), so memory stays bounded even in a training loop that
 *   never yields to the event loop (where nothing asynchronous can ever run).
 * - Failures that can heal (429, 5xx, timeouts, refused or reset connections, an answer cut off
 *   before its end) are retried with exponential backoff and jitter; Retry-After wins over the
 *   computed wait. Event ids are stable, so a retried batch cannot be stored twice.
 * - A batch counts as delivered only on an acknowledgement: a 2xx whose body arrived complete and
 *   is a JSON object (a livestep server answers `{"stored": n, "duplicates": m}`), or a 204 (no
 *   body by definition). Anything else (a body cut off, an empty 200, a proxy's HTML page) is
 *   retried: the server may not have stored the batch.
 * - When the memory bound is reached, or the server stays unreachable past `spillAfterMs`,
 *   batches spill to a spool file (JSONL, beside the run) and are replayed from it, in order,
 *   when the server is back. What is still spooled at exit stays there for `livestep sync`.
 * - At close (`run.end()`, an exit hook) the sink does not wait out a server that fails. A wait
 *   to retry is cut short for one last attempt. A server that was failing already when close
 *   began gets that attempt (or the one in flight) and at most `FAILING_CLOSE_BUDGET_MS`; a
 *   server that cannot be reached, or asks for a wait past the deadline, no retry at all. Then
 *   what is unsent goes to the spool at once and close returns. A server that answers (or fails
 *   for the first time during close: a 503 burst) is given until the deadline; then the rest
 *   goes to the spool. A request in flight does not keep the process alive by itself (see
 *   post-request.ts), so a script that never calls `end()` reaches its exit hooks, which end the
 *   run within their deadline.
 * - A refusal (another 4xx): a batch refused with 400, 413 or 422 is halved until the server
 *   takes what it can, and what it still refuses (one event, or a batch once the server has
 *   refused `MAX_REFUSALS_IN_A_ROW` requests in a row, or one split `MAX_SPLITS_PER_BATCH`
 *   times) is kept in `<run id>.refused.jsonl` with
 *   the server's message, for `livestep sync` once the server is fixed; it is counted as
 *   `rejected` and reported once. A refused token (401/403) or a redirect (3xx, never followed)
 *   stops posting: everything goes to the spool for a later sync.
 * - Metric points go as columns (protocol v1's `metrics` blocks, about a fifth of the bytes and
 *   no object per point for the server to parse) only to a server whose acknowledgement lists
 *   the `metric-columns` capability; until one does (the first request, an older server, any
 *   other receiver) every event goes as an object. A columns request refused with 400 or 422 is
 *   sent again at once as objects, and its halves too, so the one bad event is still found and
 *   kept; should the objects be taken, the server does not take its own columns, and this sink
 *   sends objects from then on.
 * - Plain http is allowed only to loopback addresses, unless explicitly allowed, so a token never
 *   crosses a network in clear text; a redirect cannot send it elsewhere. The token never appears
 *   in a message, a log or a file, nor does a URL's user name or password.
 *
 * The parts: options and bounds in http-sink-options.ts, memory, spool and refused events in
 * http-sink-custody.ts, the requests in flight in http-sink-lane.ts, the body and the
 * acknowledgement in http-sink-wire.ts, one request and its judgement in http-sink-request.ts, the refusal rules in http-sink-refusals.ts, the URL policy
 * in delivery/endpoint-url.ts; the retry loop is the delivery kit's (deliverWithRetry).
 */
import { join } from 'node:path';
import { deliverWithRetry } from '../delivery/deliver-with-retry.js';
import { isLoopbackHostname, resolveIngestUrl } from '../delivery/endpoint-url.js';
import { emitLivestepWarning } from '../delivery/livestep-warning.js';
import { createRedactor } from '../delivery/redact.js';
import type { PermanentOutcome } from '../delivery/request-outcome.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../delivery/retry-policy.js';
import type { SpoolWireChunk } from '../delivery/spool.js';
import { createIdleWaiter } from '../delivery/wait-until.js';
import { createWarnOnce } from '../delivery/warn-once.js';
import { errorMessage } from '../pipeline/dispatcher.js';
import type { DropReason, Sink, SinkDeliveryState } from '../pipeline/sink.js';
import type { Batch } from '../protocol/events.js';
import { HttpSinkCustody } from './http-sink-custody.js';
import { type Delivery, deliverFromMemory, deliverFromSpool } from './http-sink-lane.js';
import {
  CLOSE_SPOOL_RESERVE_MS,
  DEFAULT_MAX_MEMORY_EVENTS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_SPILL_AFTER_MS,
  FAILING_CLOSE_BUDGET_MS,
  type HttpSinkOptions,
} from './http-sink-options.js';
import { halvesOfRefused, MAX_SPLITS_PER_BATCH } from './http-sink-refusals.js';
import { createIngestRequests, type Request, STOPPED } from './http-sink-request.js';
import { spooledBatch } from './http-sink-wire.js';

export {
  describeUrlSafely,
  INGEST_PATH,
  resolveIngestUrl,
} from '../delivery/endpoint-url.js';
export { describeNetworkError } from '../delivery/post-request.js';
export {
  DEFAULT_MAX_MEMORY_EVENTS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_SPILL_AFTER_MS,
  GZIP_THRESHOLD_BYTES,
  type HttpSinkOptions,
} from './http-sink-options.js';

export function createHttpSink(options: HttpSinkOptions): Sink {
  const endpoint = resolveIngestUrl(options.url, options.allowInsecureHttp);
  const token = options.token;
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retryPolicy };
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const spillAfterMs = options.spillAfterMs ?? DEFAULT_SPILL_AFTER_MS;
  const maxMemoryEvents = options.maxMemoryEvents ?? DEFAULT_MAX_MEMORY_EVENTS;
  const spoolDirectory = options.spoolDirectory ?? join('.livestep', 'spool');

  /** Removes the token from anything that will be shown, in case a server echoes it back. */
  const redact = createRedactor([token]);
  const warnOnce = createWarnOnce(options.onWarning ?? emitLivestepWarning, redact);

  /** Refused requests since the last accepted one (see http-sink-refusals.ts). */
  let refusalsInARow = 0;
  /** A refused token or a redirect: nothing later can succeed in this process; keep everything for a sync. */
  let stoppedPosting = false;
  const failedByReason: Partial<Record<DropReason, number>> = {};
  let lastError: string | undefined;
  const countFailed = (reason: DropReason, count: number, message: string) => {
    failedByReason[reason] = (failedByReason[reason] ?? 0) + count;
    lastError = redact(message);
  };
  const custody = new HttpSinkCustody(spoolDirectory, warnOnce, countFailed);
  let looping = false;
  let loopStopped: Promise<void> = Promise.resolve();
  /** Aborted when the sink stops for good: a request in flight is abandoned. */
  const stopping = new AbortController();
  /** Aborted when close() begins: a wait to retry ends at once, for one last attempt. */
  const closing = new AbortController();
  /** While closing: when delivery must have stopped, so what is left can still be spooled in time. */
  let closeBy = Number.POSITIVE_INFINITY;
  /** True from a failed attempt to the next answer; read when close begins. */
  let failing = false;
  let failingWhenClosing = false;
  /** Set when, closing, delivery gave up on a failing server: the rest is spooled at once. */
  let gaveUp = false;
  const idle = createIdleWaiter();
  const requests = createIngestRequests({
    endpoint,
    token,
    compress: options.compress ?? !isLoopbackHostname(endpoint.hostname),
    timeoutMs: requestTimeoutMs,
    fetch: options.fetch,
    signal: stopping.signal,
    redact,
    warnOnce,
    answered: () => {
      failing = false;
    },
  });
  const { requestEvents } = requests;

  /** A refused token or a redirect: every event from now on, and those in memory, go to the spool. */
  function stopPosting(batch: Batch, outcome: PermanentOutcome): void {
    stoppedPosting = true;
    lastError = redact(outcome.reason);
    // At once, before a later batch can reach the spool ahead of the older ones in memory.
    custody.spill();
    const path = custody.spool?.path ?? custody.spoolPathFor(batch);
    if (outcome.status < 300 || outcome.status >= 400) {
      warnOnce(
        'unauthorized',
        `livestep: the server refused the token (${outcome.reason}); events are kept in the spool. Fix LIVESTEP_TOKEN, then run \`livestep sync ${path}\``,
      );
      return;
    }
    warnOnce(
      'redirected',
      `livestep: ${endpoint.origin} ${outcome.reason.replace(/^server /, '')}, so the events and the token go only to the address you set. Set LIVESTEP_URL to the address that takes the batches; events are kept in ${path}: deliver them with \`livestep sync ${path} --to <url>\``,
    );
  }

  /**
   * Posts one batch until it is delivered or refused for good ('done'), through the kit's retry
   * loop; see Delivery for the rest. A refusal that halving can get past is halved (see
   * http-sink-refusals.ts); what is still refused is kept, and a refused token or a redirect stops
   * posting (the halves not yet sent are not sent). `spooled`: the batch was read from the spool
   * (its lines go as they are when the server can take them).
   */
  async function deliver(batch: Batch, spooled?: SpoolWireChunk): Promise<Delivery> {
    const fromSpool = spooled !== undefined;
    /** Why this delivery stopped early, when it did (the retry hook's 'stop', a stop of posting). */
    let stoppedAs: Delivery | undefined;
    const result = await deliverWithRetry<Request>(
      {
        batch,
        splits: { left: MAX_SPLITS_PER_BATCH },
        ...(spooled !== undefined && { spooled }),
      },
      {
        signal: stopping.signal,
        policy,
        attempt: (request) => {
          if (stoppedAs !== undefined) return Promise.resolve(STOPPED);
          request.startedAt ??= Date.now();
          return requests.attempt(request);
        },
        split: (request, outcome) => {
          if (outcome.stopsPosting) return undefined;
          refusalsInARow++;
          const halves = halvesOfRefused(request.batch, outcome, refusalsInARow, request.splits);
          return halves?.map((half) => ({ batch: half, splits: request.splits }));
        },
        onRetry: ({ payload: request, outcome, waitMs }) => {
          if (stoppedAs !== undefined) return 'stop';
          failing = true;
          lastError = redact(outcome.reason);
          if (!fromSpool) {
            // Spilled while this request waited (by the request beside it): its events are in
            // the spool, which is replayed in order.
            const failingFor = Date.now() - (request.startedAt ?? Date.now());
            if (!custody.spooling && failingFor >= spillAfterMs) {
              custody.spill(
                `the server has been failing for ${Math.round(failingFor / 1000)} s (${outcome.reason})`,
              );
              stoppedAs = 'spilled';
            } else if (custody.spooling) {
              stoppedAs = 'spilled';
            }
            if (stoppedAs !== undefined) return 'stop';
          }
          if (
            closing.signal.aborted &&
            (outcome.unreachable || failingWhenClosing || Date.now() + waitMs >= closeBy)
          ) {
            stoppedAs = 'gave_up';
            return 'stop';
          }
          // Before close, close() cuts the wait short; during close, only the final stop does.
          return { wakeSignal: closing.signal.aborted ? stopping.signal : closing.signal };
        },
        onSettled: (request, settled) => {
          if (settled.verdict === 'delivered') {
            refusalsInARow = 0;
          } else if (settled.verdict === 'permanent') {
            if (settled.outcome.stopsPosting) {
              stopPosting(request.batch, settled.outcome);
              stoppedAs = 'stopped';
            } else {
              custody.keepRefused(request.batch, settled.outcome);
            }
          }
        },
      },
    );
    if (result.verdict === 'stopped')
      return result.why === 'hook' ? (stoppedAs ?? 'stopped') : 'stopped';
    return result.verdict === 'permanent' && result.outcome.stopsPosting ? 'stopped' : 'done';
  }

  /** Starts the delivery loop unless it runs already; resolves when it stops. */
  function loop(): Promise<void> {
    if (!looping) {
      looping = true;
      loopStopped = deliverInOrder();
    }
    return loopStopped;
  }

  const lane = {
    custody,
    mayStart: () => !stopping.signal.aborted && !stoppedPosting && !custody.spooling,
    failing: () => failing,
    requestEvents,
    deliver: (batch: Batch) => deliver(batch),
  };
  const spoolLane = {
    mayStart: () => !stopping.signal.aborted && !stoppedPosting,
    failing: () => failing,
    requestEvents,
    deliver: (chunk: SpoolWireChunk) => deliver(spooledBatch(custody.spool!.run, chunk), chunk),
    delivered: (chunk: SpoolWireChunk) => {
      custody.spoolEvents = Math.max(0, custody.spoolEvents - chunk.count);
    },
  };

  /** Delivers the spool, then memory, in order, until both are empty, the sink closes or posting stops. */
  async function deliverInOrder(): Promise<void> {
    try {
      while (!stopping.signal.aborted && !stoppedPosting) {
        if (custody.spooling) {
          const { spool } = custody;
          if (spool === undefined || spool.drained) {
            // Everything spooled is delivered: later batches go to memory again, from this very
            // moment (the file is removed synchronously), so none can land in the file deleted.
            custody.spooling = false;
            custody.spoolEvents = 0;
            spool?.remove();
            continue;
          }
          const result = await deliverFromSpool(spool, spoolLane);
          if (result === 'gave_up') gaveUp = true;
          if (result !== 'done') break;
          continue;
        }
        if (custody.memory[0] === undefined) break;
        const result = await deliverFromMemory(lane);
        if (result === 'spilled') continue;
        if (result === 'gave_up') gaveUp = true;
        if (result !== 'done') break;
      }
    } catch (error) {
      lastError = redact(errorMessage(error));
      warnOnce(`loop:${lastError}`, `livestep: http sink stopped delivering: ${lastError}`);
    } finally {
      looping = false;
      idle.wake();
    }
  }

  /**
   * Waits until everything is delivered, posting stopped, delivery gave up (closing while the
   * server fails), or the deadline passed; restarts the loop should it have stopped.
   */
  const whenIdleOrDeadline = (deadline: number) =>
    idle.waitUntil(
      () => custody.pending() === 0 || stoppedPosting || gaveUp,
      deadline,
      () => {
        if (!looping) void loop();
      },
    );

  return {
    name: `http:${endpoint.origin}`,
    // Takes custody and returns at once: the dispatcher must never wait on the network. Past the
    // memory bound the batch is written to the spool here, synchronously (see the top of the file).
    send(batch) {
      if (custody.spooling || stoppedPosting) {
        custody.toSpool([batch]);
      } else if (custody.hold(batch) > maxMemoryEvents) {
        custody.spill(`more than ${maxMemoryEvents} events are waiting for the server`);
      }
      if (!stoppedPosting) void loop();
    },
    sendSync(batch) {
      // The process is exiting: nothing asynchronous will finish, so write everything down.
      custody.toSpool([...custody.takeMemory(), batch]);
    },
    async flush({ deadline }) {
      await whenIdleOrDeadline(deadline);
    },
    async close({ deadline }) {
      // Keep a little time to write what is left to the spool, so nothing is lost.
      const reserve = Math.min(CLOSE_SPOOL_RESERVE_MS, Math.max(0, deadline - Date.now()) / 4);
      closeBy = deadline - reserve;
      failingWhenClosing = failing;
      if (failing) closeBy = Math.min(closeBy, Date.now() + FAILING_CLOSE_BUDGET_MS);
      // A sink waiting to retry tries once more now, instead of sleeping into the deadline.
      closing.abort();
      await whenIdleOrDeadline(closeBy);
      // After close nothing runs in the background: what is undelivered waits in the spool.
      stopping.abort();
      // The loop stops at its next step (a request in flight is aborted); let it finish what it
      // was doing, such as deleting a spool it has just replayed.
      await loopStopped;
      if (custody.memory.length > 0) {
        custody.spooling = true;
        custody.toSpool(custody.takeMemory());
      }
      const { spool, spoolEvents } = custody;
      if (spool?.drained && spoolEvents === 0) {
        spool.remove();
        return;
      }
      spool?.close();
      if (spoolEvents > 0 && !stoppedPosting && spool !== undefined) {
        const why =
          gaveUp || failingWhenClosing
            ? (lastError ?? 'the server failed')
            : 'the end deadline passed before the server took them';
        warnOnce(
          'left_at_close',
          `livestep: ${spoolEvents} events did not reach ${endpoint.host} before the run ended (${why}); they are kept in ${spool.path}: deliver them with \`livestep sync ${spool.path}\` (to LIVESTEP_URL, or --to <url>)`,
        );
      }
    },
    report(): SinkDeliveryState {
      const state: SinkDeliveryState = {
        pending: custody.pending(),
        failedByReason: { ...failedByReason },
      };
      const kept: string[] = [];
      const { spool, spoolEvents, refusalRecord } = custody;
      if (spoolEvents > 0) {
        state.spooled = spoolEvents;
        if (spool !== undefined) {
          state.spoolPath = spool.path;
          kept.push(spool.path);
        }
      }
      if (refusalRecord !== undefined) {
        state.refusedPath = refusalRecord.path;
        kept.push(refusalRecord.path);
      }
      if (kept.length > 0) {
        state.recoverWith = `npx livestep sync ${kept.join(' ')} --to ${endpoint.origin}`;
      }
      if (lastError !== undefined) state.lastError = lastError;
      return state;
    },
  };
}
