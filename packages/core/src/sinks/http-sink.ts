/**
 * The HTTP sink streams protocol v1 batches to a livestep server (LIVESTEP_URL), and loses nothing
 * when the server is slow, down or restarting:
 *
 * - `send` only queues (in memory) and returns, so the dispatcher never waits on the network;
 *   a background loop posts batches in order, one at a time.
 * - Failures that can heal (429, 502, 503, 504, timeouts, refused or reset connections) are
 *   retried with exponential backoff and jitter; Retry-After wins over the computed wait. Event
 *   ids are stable, so a retried batch cannot be stored twice.
 * - When the memory bound is reached, or the server stays unreachable past `spillAfterMs`,
 *   batches spill to a spool file (JSONL, beside the run) and are replayed from it, in order,
 *   when the server is back. What is still spooled at exit stays there for `livestep sync`.
 * - At close (`run.end()`, an exit hook) the sink does not wait out a server that fails. A wait
 *   to retry is cut short for one last attempt. A server that was failing already when close
 *   began gets that attempt (or the one in flight) and at most `FAILING_CLOSE_BUDGET_MS`; a
 *   server that cannot be reached, or asks for a wait past the deadline, no retry at all. Then
 *   what is unsent goes to the spool at once and close returns. A server that answers (or fails
 *   for the first time during close: a 503 burst) is given until the deadline; then the rest
 *   goes to the spool.
 * - A permanent refusal (another 4xx) is reported once, with the server's message, and counted.
 *   A refused token (401/403) stops posting; everything goes to the spool for a later sync.
 * - Plain http is allowed only to loopback addresses, unless explicitly allowed, so a token never
 *   crosses a network in clear text. The token never appears in a message, a log or a file.
 */
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { abortableSleep } from '../delivery/abortable-sleep.js';
import {
  backoffDelay,
  DEFAULT_RETRY_POLICY,
  judgeStatus,
  parseRetryAfter,
  type RetryPolicy,
} from '../delivery/retry-policy.js';
import { Spool } from '../delivery/spool.js';
import { errorMessage } from '../dispatcher.js';
import type { Batch } from '../protocol.js';
import { PROTOCOL_VERSION } from '../protocol.js';
import type { DropReason, Sink, SinkDeliveryState } from '../sink.js';

const gzipAsync = promisify(gzip);

/** The ingest path under LIVESTEP_URL. */
export const INGEST_PATH = '/api/v1/batches';
/** Bodies larger than this are gzipped (Sentry's threshold): smaller ones are not worth the CPU. */
export const GZIP_THRESHOLD_BYTES = 32 * 1024;
/** A request that has not answered in this long is abandoned and retried. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** After failing this long, stop holding batches in memory and spill them to the spool. */
export const DEFAULT_SPILL_AFTER_MS = 10_000;
/** Events held in memory for this sink before spilling to the spool (about 100 bytes each). */
export const DEFAULT_MAX_MEMORY_EVENTS = 50_000;
/** Most events in one request, when a backlog lets batches be merged or the spool is replayed. */
const MAX_REQUEST_EVENTS = 5_000;
/** How often flush() and close() look again while delivery goes on. */
const IDLE_POLL_MS = 50;
/**
 * At close, the last this-much of the deadline (at most; a quarter of what is left when less) is
 * kept for writing the unsent events to the spool, so ending on time never loses them.
 */
const CLOSE_SPOOL_RESERVE_MS = 500;
/**
 * At close, a sink whose server was failing already gets at most this long (its last attempt, or
 * the one in flight) before it spools the rest: a server that answers at all answers within it,
 * and one that hangs must not hold the end of the script for the whole deadline.
 */
const FAILING_CLOSE_BUDGET_MS = 1_000;
/** A server message quoted in a warning is cut to this length. */
const MAX_QUOTED_MESSAGE_LENGTH = 300;

export interface HttpSinkOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:4318`; batches go to `<url>/api/v1/batches`. */
  url: string;
  /** Sent as `Authorization: Bearer <token>`; never logged. */
  token?: string;
  /** Allow plain http to a host that is not loopback (the token would cross the network in clear). */
  allowInsecureHttp?: boolean;
  /** Folder for spool files (`<run id>.jsonl`). Default: `.livestep/spool` in the working directory. */
  spoolDirectory?: string;
  requestTimeoutMs?: number;
  spillAfterMs?: number;
  maxMemoryEvents?: number;
  retryPolicy?: Partial<RetryPolicy>;
  /** Where warnings go (default: process.emitWarning). */
  onWarning?: (message: string) => void;
  /** For tests: the fetch to use. */
  fetch?: typeof fetch;
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

function isLoopback(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/** Checks the URL and returns the ingest endpoint; throws a clear error naming the fix. */
export function resolveIngestUrl(url: string, allowInsecureHttp = false): URL {
  let base: URL;
  try {
    base = new URL(url);
  } catch {
    throw new TypeError(
      `livestep: LIVESTEP_URL ${JSON.stringify(url)} is not a URL; use e.g. http://127.0.0.1:4318`,
    );
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new TypeError(`livestep: LIVESTEP_URL must be http or https, got ${base.protocol}`);
  }
  if (base.username || base.password) {
    throw new TypeError(
      'livestep: LIVESTEP_URL must not contain credentials; put the token in LIVESTEP_TOKEN',
    );
  }
  if (base.protocol === 'http:' && !isLoopback(base.hostname) && !allowInsecureHttp) {
    throw new TypeError(
      `livestep: refusing plain http to ${base.hostname} (only loopback addresses may use http); use https, or set LIVESTEP_ALLOW_INSECURE_HTTP=1 to allow it`,
    );
  }
  const path = base.pathname.replace(/\/+$/, '');
  return new URL(`${base.origin}${path}${INGEST_PATH}`);
}

/** The most telling part of a fetch failure: ECONNREFUSED rather than "fetch failed". */
export function describeNetworkError(error: unknown): string {
  const cause = (
    error as { cause?: { code?: string; message?: string; errors?: Array<{ code?: string }> } }
  ).cause;
  return cause?.code ?? cause?.errors?.[0]?.code ?? cause?.message ?? errorMessage(error);
}

type Outcome =
  | { verdict: 'delivered' }
  /** `unreachable`: no connection (refused, reset, unknown host), as opposed to an answer or a timeout. */
  | { verdict: 'retry'; waitMs?: number; reason: string; unreachable?: boolean }
  | { verdict: 'unauthorized' | 'too_large' | 'rejected'; reason: string };

export function createHttpSink(options: HttpSinkOptions): Sink {
  const endpoint = resolveIngestUrl(options.url, options.allowInsecureHttp);
  const token = options.token;
  const post = options.fetch ?? globalThis.fetch;
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retryPolicy };
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const spillAfterMs = options.spillAfterMs ?? DEFAULT_SPILL_AFTER_MS;
  const maxMemoryEvents = options.maxMemoryEvents ?? DEFAULT_MAX_MEMORY_EVENTS;
  const spoolDirectory = options.spoolDirectory ?? join('.livestep', 'spool');
  const warn =
    options.onWarning ??
    ((message: string) => process.emitWarning(message, { type: 'LivestepWarning' }));
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;

  /** Removes the token from anything that will be shown, in case a server echoes it back. */
  const redact = (text: string) => (token ? text.split(token).join('[redacted]') : text);

  const memory: Batch[] = [];
  let memoryEvents = 0;
  let spool: Spool | undefined;
  let spoolEvents = 0;
  let spooling = false;
  /** A refused token: nothing later can succeed in this process; keep everything for a sync. */
  let unauthorized = false;
  const failedByReason: Partial<Record<DropReason, number>> = {};
  let lastError: string | undefined;
  const warned = new Set<string>();
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
  let idleWaiters: Array<() => void> = [];

  const warnOnce = (key: string, message: string) => {
    if (warned.has(key)) return;
    warned.add(key);
    warn(redact(message));
  };
  const countFailed = (reason: DropReason, count: number, message: string) => {
    failedByReason[reason] = (failedByReason[reason] ?? 0) + count;
    lastError = redact(message);
  };

  function spoolFor(batch: Batch): Spool {
    spool ??= new Spool(join(spoolDirectory, `${batch.run.id}.jsonl`), batch.run);
    return spool;
  }

  /** Hands batches to the spool; they count as spooled at once, and as failed if the write fails. */
  function toSpool(batches: Batch[]): Promise<void> {
    const writes = batches.map((batch) => {
      const count = batch.events.length;
      spoolEvents += count;
      return spoolFor(batch)
        .append(batch)
        .catch((error: unknown) => {
          spoolEvents -= count;
          countFailed('spool_error', count, `cannot write the spool: ${errorMessage(error)}`);
          warnOnce(
            'spool_error',
            `livestep: http sink cannot write its spool file: ${errorMessage(error)}`,
          );
        });
    });
    return Promise.all(writes).then(() => {});
  }

  /** Moves everything held in memory to the spool, keeping order; later batches follow it there. */
  async function spill(reason: string): Promise<void> {
    const batches = memory.splice(0);
    if (!spooling) {
      spooling = true;
      const path = batches[0] === undefined ? spool?.path : spoolFor(batches[0]).path;
      warnOnce(
        'spill',
        `livestep: ${reason}; keeping events in ${path ?? spoolDirectory} and replaying them when the server is back`,
      );
    }
    memoryEvents = 0;
    await toSpool(batches);
  }

  async function attempt(batch: Batch): Promise<Outcome> {
    const json = JSON.stringify({
      protocol: PROTOCOL_VERSION,
      run: batch.run,
      events: batch.events,
    });
    let body: string | Buffer = json;
    const requestHeaders = { ...headers };
    if (Buffer.byteLength(json) > GZIP_THRESHOLD_BYTES) {
      body = await gzipAsync(json);
      requestHeaders['content-encoding'] = 'gzip';
    }
    const timeout = AbortSignal.timeout(requestTimeoutMs);
    const signal = AbortSignal.any([timeout, stopping.signal]);
    let response: Response;
    try {
      response = await post(endpoint, { method: 'POST', headers: requestHeaders, body, signal });
    } catch (error) {
      const cause = describeNetworkError(error);
      if (timeout.aborted) {
        return { verdict: 'retry', reason: `no answer within ${requestTimeoutMs} ms` };
      }
      return {
        verdict: 'retry',
        reason: `cannot reach ${endpoint.host} (${cause})`,
        unreachable: true,
      };
    }
    const verdict = judgeStatus(response.status);
    if (verdict === 'delivered') {
      await response.body?.cancel();
      return { verdict };
    }
    const text = (await response.text().catch(() => '')).slice(0, MAX_QUOTED_MESSAGE_LENGTH);
    const reason = `server answered ${response.status}${text ? `: ${text}` : ''}`;
    if (verdict === 'retry') {
      const waitMs = parseRetryAfter(response.headers.get('retry-after'));
      return waitMs === undefined ? { verdict, reason } : { verdict, reason, waitMs };
    }
    return { verdict, reason };
  }

  /**
   * Posts one batch until it is delivered or refused for good ('done'). 'spilled': the outage
   * lasted past spillAfterMs and the batch went to the spool with the rest; 'stopped': the sink
   * stopped or the token was refused; 'gave_up': the sink is closing and will not retry a failing
   * server (see the top of this file), so the batch is left for the spool.
   */
  async function deliver(
    batch: Batch,
    fromSpool: boolean,
  ): Promise<'done' | 'stopped' | 'spilled' | 'gave_up'> {
    const firstFailure = Date.now();
    for (let failures = 0; ; ) {
      if (stopping.signal.aborted) return 'stopped';
      const outcome = await attempt(batch);
      if (outcome.verdict !== 'retry') failing = false;
      switch (outcome.verdict) {
        case 'delivered':
          return 'done';
        case 'rejected':
          countFailed('rejected', batch.events.length, outcome.reason);
          warnOnce(
            `rejected:${outcome.reason}`,
            `livestep: the server refused ${batch.events.length} events: ${outcome.reason}`,
          );
          return 'done';
        case 'too_large':
          if (batch.events.length > 1) {
            // Halve until it fits; ids keep the halves idempotent.
            const middle = Math.ceil(batch.events.length / 2);
            for (const events of [batch.events.slice(0, middle), batch.events.slice(middle)]) {
              const result = await deliver({ ...batch, events }, fromSpool);
              if (result !== 'done') return result;
            }
            return 'done';
          }
          countFailed('rejected', 1, outcome.reason);
          warnOnce(
            'too_large',
            `livestep: the server refused an event as too large: ${outcome.reason}`,
          );
          return 'done';
        case 'unauthorized':
          unauthorized = true;
          lastError = redact(outcome.reason);
          warnOnce(
            'unauthorized',
            `livestep: the server refused the token (${outcome.reason}); events are kept in the spool. Fix LIVESTEP_TOKEN, then run \`livestep sync\` on the spool file`,
          );
          return 'stopped';
        case 'retry': {
          // Cut off by close at the deadline: not the server's failure.
          if (stopping.signal.aborted) return 'stopped';
          failures++;
          failing = true;
          lastError = redact(outcome.reason);
          if (!fromSpool && !spooling && Date.now() - firstFailure >= spillAfterMs) {
            await spill(
              `the server has been failing for ${Math.round((Date.now() - firstFailure) / 1000)} s (${outcome.reason})`,
            );
            return 'spilled';
          }
          const computed = backoffDelay(failures, policy);
          const wait =
            outcome.waitMs === undefined
              ? computed
              : Math.min(outcome.waitMs, policy.maxRetryAfterMs);
          if (
            closing.signal.aborted &&
            (outcome.unreachable || failingWhenClosing || Date.now() + wait >= closeBy)
          ) {
            return 'gave_up';
          }
          // Before close, close() cuts the wait short; during close, only the final stop does.
          await abortableSleep(wait, closing.signal.aborted ? stopping.signal : closing.signal);
        }
      }
    }
  }

  /** Starts the delivery loop unless it runs already; resolves when it stops. */
  function loop(): Promise<void> {
    if (!looping) {
      looping = true;
      loopStopped = deliverInOrder();
    }
    return loopStopped;
  }

  /** Delivers the spool, then memory, in order, until both are empty, the sink closes or the token is refused. */
  async function deliverInOrder(): Promise<void> {
    try {
      while (!stopping.signal.aborted && !unauthorized) {
        if (spooling) {
          if (spool === undefined || spool.drained) {
            // Everything spooled is delivered: later batches go to memory again, from this very
            // moment (before any await), so none can land in the file being deleted.
            spooling = false;
            spoolEvents = 0;
            if (spool !== undefined) await spool.remove();
            continue;
          }
          const chunk = await spool.read(MAX_REQUEST_EVENTS);
          if (chunk.events.length === 0) {
            await spool.acknowledge(chunk.endOffset);
            continue;
          }
          const result = await deliver(
            { protocol: PROTOCOL_VERSION, run: spool.run, events: chunk.events },
            true,
          );
          if (result === 'gave_up') gaveUp = true;
          if (result !== 'done') break;
          await spool.acknowledge(chunk.endOffset);
          spoolEvents = Math.max(0, spoolEvents - chunk.events.length);
          continue;
        }
        const first = memory[0];
        if (first === undefined) break;
        // Under a backlog, several queued batches go in one request: fewer round trips.
        let taken = 1;
        let events = first.events;
        while (
          taken < memory.length &&
          events.length + memory[taken]!.events.length <= MAX_REQUEST_EVENTS
        ) {
          events = events.concat(memory[taken]!.events);
          taken++;
        }
        const result = await deliver({ ...first, events }, false);
        if (result === 'spilled') continue;
        if (result === 'gave_up') gaveUp = true;
        if (result !== 'done') break;
        // A spill while this request was in flight already moved its batches to the spool; the
        // replay sends them again, which the server's idempotency by event id absorbs.
        if (memory[0] === first) {
          memory.splice(0, taken);
          memoryEvents -= events.length;
        }
      }
      if (unauthorized) await spill('the server refused the token');
    } catch (error) {
      lastError = redact(errorMessage(error));
      warnOnce(`loop:${lastError}`, `livestep: http sink stopped delivering: ${lastError}`);
    } finally {
      looping = false;
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  const pending = () => memoryEvents + spoolEvents;

  /**
   * Waits until everything is delivered, the token was refused, delivery gave up (closing while
   * the server fails), or the deadline passed.
   */
  async function whenIdleOrDeadline(deadline: number): Promise<void> {
    while (pending() > 0 && !unauthorized && !gaveUp && Date.now() < deadline) {
      if (!looping) void loop();
      await new Promise<void>((resolve) => {
        // A ref'd timer: while a run is ending, delivery is what keeps the process alive.
        const timer = setTimeout(
          resolve,
          Math.min(IDLE_POLL_MS, Math.max(0, deadline - Date.now())),
        );
        idleWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  return {
    name: `http:${endpoint.origin}`,
    // Takes custody and returns at once: the dispatcher must never wait on the network or disk.
    send(batch) {
      if (spooling || unauthorized) {
        void toSpool([batch]);
      } else {
        memory.push(batch);
        memoryEvents += batch.events.length;
        if (memoryEvents > maxMemoryEvents) {
          void spill(`more than ${maxMemoryEvents} events are waiting for the server`);
        }
      }
      if (!unauthorized) void loop();
    },
    sendSync(batch) {
      // The process is exiting: nothing asynchronous will finish, so write everything down.
      const batches = [...memory.splice(0), batch];
      memoryEvents = 0;
      for (const queued of batches) {
        try {
          spoolFor(queued).appendSync(queued);
          spoolEvents += queued.events.length;
        } catch (error) {
          countFailed(
            'spool_error',
            queued.events.length,
            `cannot write the spool: ${errorMessage(error)}`,
          );
        }
      }
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
      if (memory.length > 0) {
        const batches = memory.splice(0);
        memoryEvents = 0;
        spooling = true;
        await toSpool(batches);
      }
      if (spool?.drained && spoolEvents === 0) {
        await spool.remove();
        return;
      }
      await spool?.close();
      if (spoolEvents > 0 && !unauthorized && spool !== undefined) {
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
        pending: pending(),
        failedByReason: { ...failedByReason },
      };
      if (spoolEvents > 0) {
        state.spooled = spoolEvents;
        if (spool !== undefined) state.spoolPath = spool.path;
      }
      if (lastError !== undefined) state.lastError = lastError;
      return state;
    },
  };
}
