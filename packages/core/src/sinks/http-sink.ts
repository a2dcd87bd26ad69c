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
 */
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { abortableSleep } from '../delivery/abortable-sleep.js';
import {
  MAX_ANSWER_BYTES,
  type PostOptions,
  type PostResult,
  postRequest,
  postWithFetch,
} from '../delivery/post-request.js';
import { RefusalRecord } from '../delivery/refusal-record.js';
import {
  backoffDelay,
  DEFAULT_RETRY_POLICY,
  judgeStatus,
  parseRetryAfter,
  type RetryPolicy,
} from '../delivery/retry-policy.js';
import { Spool } from '../delivery/spool.js';
import { errorMessage } from '../pipeline/dispatcher.js';
import type { DropReason, Sink, SinkDeliveryState } from '../pipeline/sink.js';
import type { Batch, MetricColumns, MetricEvent, RunEvent } from '../protocol/events.js';
import { PROTOCOL_VERSION } from '../protocol/events.js';
import { encodeMetricColumns, METRIC_COLUMNS_CAPABILITY } from '../protocol/metric-columns.js';

export { describeNetworkError } from '../delivery/post-request.js';

const gzipAsync = promisify(gzip);

/** The ingest path under LIVESTEP_URL. */
export const INGEST_PATH = '/api/v1/batches';
/** Bodies larger than this are gzipped (Sentry's threshold): smaller ones are not worth the CPU. */
export const GZIP_THRESHOLD_BYTES = 32 * 1024;
/** A request that has not answered in this long is abandoned and retried. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** After failing this long, stop holding batches in memory and spill them to the spool. */
export const DEFAULT_SPILL_AFTER_MS = 10_000;
/** Events held in memory for this sink before spilling to the spool (about 200 bytes each). */
export const DEFAULT_MAX_MEMORY_EVENTS = 50_000;
/** Most events in one request, when a backlog lets batches be merged or the spool is replayed. */
const MAX_REQUEST_EVENTS = 5_000;
/**
 * The same to a server that takes metric columns: points in columns take about a fifth of the
 * bytes, so four times the points make a body no larger, and fewer requests and commits. A
 * server's own `maxBatchEvents` (told in its acknowledgement) wins when it is lower.
 */
const MAX_COLUMNS_REQUEST_EVENTS = 20_000;
/**
 * Requests posted at once from memory while the server answers: two keep the client building a
 * body while the server stores the one before (each side was idle half the time with one).
 */
const MAX_REQUESTS_IN_FLIGHT = 2;
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
/**
 * A server message quoted in a warning is cut to this length, after the token was taken out of
 * the whole answer (MAX_ANSWER_BYTES, far longer), so no cut can leave a piece of the token.
 */
const MAX_QUOTED_MESSAGE_LENGTH = 300;
/**
 * Refusals that can be about some of a batch's events (a value the server's schema refuses, a
 * body over its limit): halving finds the events it takes. Other refusals (404, 405, 415...) are
 * about the endpoint, the same for every event, and splitting them only multiplies requests.
 */
const SPLITTABLE_REFUSALS = new Set([400, 413, 422]);
/**
 * Refused requests in a row (nothing accepted in between) after which a refused batch is kept
 * whole, no longer split: a server that refuses everything then costs about this many requests
 * plus one per batch, where splitting every batch down to single events cost two per event. Deep
 * enough to isolate one bad event in a 5,000-event batch (13 halvings).
 */
const MAX_REFUSALS_IN_A_ROW = 16;
/**
 * Halvings of one batch (as taken from memory or the spool, at most 5,000 events), so a server
 * that refuses many scattered events cannot cost two requests per event: at most about twice this
 * many requests per batch. Enough to fit a 5,000-event batch to a 100-event limit (63 halvings) or
 * to find 4 bad events in it; what is left unsplit is kept whole as refused, for a later sync.
 */
const MAX_SPLITS_PER_BATCH = 64;
/**
 * Consecutive metric events below this many go as objects: a block's tables cost more than they
 * save on a handful of points.
 */
const MIN_COLUMN_POINTS = 8;
/**
 * Refusals of a columns request that may be about the form (a server that no longer takes it):
 * the same events are sent again as objects before anything is split or kept as refused.
 */
const COLUMN_FORM_REFUSALS = new Set([400, 422]);
/** Control characters in a server's message are shown as spaces: it must not drive a terminal. */
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]+/g;

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
  /**
   * A fetch to post with instead of the built-in node:http transport (tests, custom transports).
   * It is called with `redirect: 'manual'`. Unlike the built-in transport, a fetch in flight keeps
   * the process alive, so a script that never calls `end()` waits for it before its exit hooks run.
   */
  fetch?: typeof fetch;
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

function isLoopback(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/**
 * A URL as it may be shown: without the user name and password (even when the rest does not
 * parse, where everything before the last `@` of the authority is taken for them) and without
 * its query, which may carry a key.
 */
export function describeUrlSafely(url: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url)?.[0] ?? '';
  let rest = url.slice(scheme.length);
  const query = rest.search(/[?#]/);
  if (query !== -1) rest = `${rest.slice(0, query)}?[query hidden]`;
  const at = rest.lastIndexOf('@');
  if (at !== -1) rest = `[credentials hidden]@${rest.slice(at + 1)}`;
  return `${scheme}${rest}`;
}

/** Checks the URL and returns the ingest endpoint; throws a clear error naming the fix. */
export function resolveIngestUrl(url: string, allowInsecureHttp = false): URL {
  let base: URL;
  try {
    base = new URL(url);
  } catch {
    throw new TypeError(
      `livestep: LIVESTEP_URL ${JSON.stringify(describeUrlSafely(url))} is not a URL; use e.g. http://127.0.0.1:4318`,
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

/** Where a redirect points, as may be shown: its origin only (never credentials, path or query). */
function describeLocation(location: string | undefined, base: URL): string {
  if (location === undefined || location.trim() === '') return 'no address (no Location header)';
  try {
    const target = new URL(location, base);
    return target.origin === 'null' ? `a ${target.protocol} address` : target.origin;
  } catch {
    return 'an address that does not parse';
  }
}

type Outcome =
  | { verdict: 'delivered' }
  /** `unreachable`: no connection (refused, reset, unknown host), as opposed to an answer or a timeout. */
  | { verdict: 'retry'; waitMs?: number; reason: string; unreachable?: boolean }
  /** Posting stops: a refused token, or a redirect (the configured address is not the ingest). */
  | { verdict: 'unauthorized' | 'redirected'; reason: string }
  /** `message`: the server's own words, for the record of refused events. */
  | { verdict: 'refused'; status: number; reason: string; message: string; columns: boolean };

type Delivery = 'done' | 'stopped' | 'spilled' | 'gave_up';

/** How many more times a batch and its halves may be split (see MAX_SPLITS_PER_BATCH). */
interface SplitBudget {
  left: number;
  /** A columns request for this batch was refused: it and its halves go as event objects. */
  objectsOnly?: boolean;
}

/**
 * The events as they go to a server that takes metric columns: each run of consecutive metric
 * events (MIN_COLUMN_POINTS or more) as one block, the rest as objects. Undefined when nothing
 * would go as columns.
 */
function withMetricColumns(events: RunEvent[]): Array<RunEvent | MetricColumns> | undefined {
  let wire: Array<RunEvent | MetricColumns> | undefined;
  let start = 0;
  for (let index = 0; index <= events.length; index++) {
    if (index < events.length && events[index]!.kind === 'metric') continue;
    if (index - start >= MIN_COLUMN_POINTS) {
      const run = events.slice(start, index) as MetricEvent[];
      const columns = encodeMetricColumns(run);
      wire ??= events.slice(0, start);
      if (columns === undefined) wire.push(...run);
      else wire.push(columns);
    } else if (wire !== undefined) {
      for (let from = start; from < index; from++) wire.push(events[from]!);
    }
    if (index < events.length) wire?.push(events[index]!);
    start = index + 1;
  }
  return wire;
}

export function createHttpSink(options: HttpSinkOptions): Sink {
  const endpoint = resolveIngestUrl(options.url, options.allowInsecureHttp);
  const token = options.token;
  const fetchFunction = options.fetch;
  const post = (request: PostOptions): Promise<PostResult> =>
    fetchFunction === undefined
      ? postRequest(endpoint, request)
      : postWithFetch(fetchFunction, endpoint, request);
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

  /** A server's answer as it may be quoted: its `message` if JSON, token out first, then cut. */
  function quoteAnswer(body: Buffer): string {
    let text = body.toString('utf8');
    try {
      const parsed = JSON.parse(text) as { message?: unknown };
      if (typeof parsed?.message === 'string') text = parsed.message;
    } catch {
      // Not JSON: quoted as it is.
    }
    text = redact(text).replace(CONTROL_CHARACTERS, ' ').trim();
    return text.length > MAX_QUOTED_MESSAGE_LENGTH
      ? `${text.slice(0, MAX_QUOTED_MESSAGE_LENGTH)}…`
      : text;
  }

  const memory: Batch[] = [];
  let memoryEvents = 0;
  let spool: Spool | undefined;
  let spoolEvents = 0;
  let spooling = false;
  let refusalRecord: RefusalRecord | undefined;
  /** Refused requests since the last accepted one (see MAX_REFUSALS_IN_A_ROW). */
  let refusalsInARow = 0;
  /** A refused token or a redirect: nothing later can succeed in this process; keep everything for a sync. */
  let stoppedPosting = false;
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
  /** The server's last acknowledgement listed the `metric-columns` capability. */
  let serverTakesColumns = false;
  /** The server refused columns that it took as objects: objects only from now on. */
  let columnsRefused = false;
  /** The most events a request may hold, as the server's last acknowledgement told. */
  let serverMaxBatchEvents = Number.POSITIVE_INFINITY;
  /** Events to merge into one request now (see MAX_COLUMNS_REQUEST_EVENTS). */
  const requestEvents = () =>
    serverTakesColumns && !columnsRefused
      ? Math.max(1, Math.min(MAX_COLUMNS_REQUEST_EVENTS, serverMaxBatchEvents))
      : MAX_REQUEST_EVENTS;

  const warnOnce = (key: string, message: string) => {
    if (warned.has(key)) return;
    warned.add(key);
    warn(redact(message));
  };
  const countFailed = (reason: DropReason, count: number, message: string) => {
    failedByReason[reason] = (failedByReason[reason] ?? 0) + count;
    lastError = redact(message);
  };

  const spoolPathFor = (batch: Batch) => join(spoolDirectory, `${batch.run.id}.jsonl`);

  function spoolFor(batch: Batch): Spool {
    spool ??= new Spool(spoolPathFor(batch), batch.run);
    return spool;
  }

  /**
   * Writes batches to the spool, synchronously (see spool.ts); they count as spooled, or as
   * failed (`spool_error`) when the disk refuses them.
   */
  function toSpool(batches: Batch[]): void {
    for (const batch of batches) {
      const count = batch.events.length;
      try {
        spoolFor(batch).append(batch);
        spoolEvents += count;
      } catch (error) {
        countFailed('spool_error', count, `cannot write the spool: ${errorMessage(error)}`);
        warnOnce(
          'spool_error',
          `livestep: http sink cannot write its spool file ${spool?.path ?? spoolDirectory}: ${errorMessage(error)}; events it cannot deliver now are lost (the file sinks still have them)`,
        );
      }
    }
  }

  /**
   * Moves everything held in memory to the spool, keeping order; later batches follow it there.
   * `reason`, when given, is told once (with the file and the promise of a replay).
   */
  function spill(reason?: string): void {
    const batches = memory.splice(0);
    memoryEvents = 0;
    if (!spooling && reason !== undefined) {
      const path = batches[0] === undefined ? spool?.path : spoolFor(batches[0]).path;
      warnOnce(
        'spill',
        `livestep: ${reason}; keeping events in ${path ?? spoolDirectory} and replaying them when the server is back`,
      );
    }
    spooling = true;
    toSpool(batches);
  }

  /** Keeps what the server refused for good, with its message, for a sync once it is fixed. */
  function keepRefused(batch: Batch, outcome: Extract<Outcome, { verdict: 'refused' }>): void {
    const count = batch.events.length;
    refusalRecord ??= new RefusalRecord(
      join(spoolDirectory, `${batch.run.id}.refused.jsonl`),
      batch.run,
    );
    const path = refusalRecord.path;
    countFailed('rejected', count, outcome.reason);
    try {
      refusalRecord.append(batch, { status: outcome.status, message: outcome.message });
    } catch (error) {
      warnOnce(
        'refusal_record_error',
        `livestep: the server refused ${count} events (${outcome.reason}) and they cannot be kept in ${path}: ${errorMessage(error)}; they are lost here (the file sinks still have them)`,
      );
      return;
    }
    warnOnce(
      `refused:${outcome.status}`,
      `livestep: the server refused ${count} events: ${outcome.reason}. They are kept in ${path}; once the server takes them, deliver them with \`livestep sync ${path}\``,
    );
  }

  async function attempt(batch: Batch, objectsOnly = false): Promise<Outcome> {
    const columnEvents =
      serverTakesColumns && !columnsRefused && !objectsOnly
        ? withMetricColumns(batch.events)
        : undefined;
    const columns = columnEvents !== undefined;
    const json = JSON.stringify({
      protocol: PROTOCOL_VERSION,
      run: batch.run,
      events: columnEvents ?? batch.events,
    });
    let body: string | Buffer = json;
    const requestHeaders = { ...headers };
    if (Buffer.byteLength(json) > GZIP_THRESHOLD_BYTES) {
      body = await gzipAsync(json);
      requestHeaders['content-encoding'] = 'gzip';
    }
    const answer = await post({
      headers: requestHeaders,
      body,
      timeoutMs: requestTimeoutMs,
      signal: stopping.signal,
    });
    if (!answer.answered) {
      if (answer.reason === 'timeout') {
        return { verdict: 'retry', reason: `no answer within ${requestTimeoutMs} ms` };
      }
      if (answer.reason === 'stopped') return { verdict: 'retry', reason: 'stopped' };
      return {
        verdict: 'retry',
        reason: `cannot reach ${endpoint.host} (${answer.cause})`,
        unreachable: true,
      };
    }
    const { status } = answer;
    const verdict = judgeStatus(status);
    if (verdict === 'delivered') {
      const problem = checkAcknowledgement(answer);
      if (problem === undefined) return { verdict };
      warnOnce(
        `not_acknowledged:${status}`,
        `livestep: ${endpoint.host} answered ${status} without acknowledging the batch (${problem}); the batch is sent again (event ids keep it from being stored twice). Check that LIVESTEP_URL is a livestep server`,
      );
      return { verdict: 'retry', reason: `server answered ${status} but ${problem}` };
    }
    if (verdict === 'redirected') {
      const target = describeLocation(answer.headers.location, endpoint);
      return {
        verdict: 'redirected',
        reason: `server answered ${status}, redirecting to ${target}; redirects are not followed for ingest`,
      };
    }
    const message = quoteAnswer(answer.body);
    const reason = `server answered ${status}${message ? `: ${message}` : ''}`;
    if (verdict === 'retry') {
      const waitMs = parseRetryAfter(answer.headers['retry-after']);
      return waitMs === undefined ? { verdict, reason } : { verdict, reason, waitMs };
    }
    if (verdict === 'unauthorized') return { verdict, reason };
    return { verdict: 'refused', status, reason, message, columns };
  }

  /** Undefined for a proper acknowledgement; else what is wrong with it, to be quoted. */
  function checkAcknowledgement(
    answer: Extract<PostResult, { answered: true }>,
  ): string | undefined {
    if (answer.status === 204) {
      // No body, no capabilities: a receiver that is not (or not only) a livestep server.
      serverTakesColumns = false;
      return undefined;
    }
    if (answer.truncated) return `its body is longer than ${MAX_ANSWER_BYTES} bytes`;
    if (!answer.complete) return 'its body was cut off before its end';
    const text = answer.body.toString('utf8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      const quoted = quoteAnswer(answer.body);
      return `its body is not JSON (${quoted ? JSON.stringify(quoted) : 'empty'})`;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      return 'its body is not a JSON object';
    }
    // Learnt from every acknowledgement, so a server replaced by an older one gets objects again.
    const capabilities = (parsed as { capabilities?: unknown }).capabilities;
    serverTakesColumns =
      Array.isArray(capabilities) && capabilities.includes(METRIC_COLUMNS_CAPABILITY);
    const limit = (parsed as { maxBatchEvents?: unknown }).maxBatchEvents;
    serverMaxBatchEvents =
      typeof limit === 'number' && Number.isInteger(limit) && limit > 0
        ? limit
        : Number.POSITIVE_INFINITY;
    return undefined;
  }

  /** Halves a refused batch (see SPLITTABLE_REFUSALS), or keeps it as refused. */
  async function refused(
    batch: Batch,
    outcome: Extract<Outcome, { verdict: 'refused' }>,
    fromSpool: boolean,
    splits: SplitBudget,
  ): Promise<Delivery> {
    refusalsInARow++;
    if (
      batch.events.length > 1 &&
      SPLITTABLE_REFUSALS.has(outcome.status) &&
      refusalsInARow < MAX_REFUSALS_IN_A_ROW &&
      splits.left > 0
    ) {
      splits.left--;
      // Halve until the server takes what it can; ids keep the halves idempotent.
      const middle = Math.ceil(batch.events.length / 2);
      for (const events of [batch.events.slice(0, middle), batch.events.slice(middle)]) {
        const result = await deliver({ ...batch, events }, fromSpool, splits);
        if (result !== 'done') return result;
      }
      return 'done';
    }
    keepRefused(batch, outcome);
    return 'done';
  }

  /** A refused token or a redirect: every event from now on, and those in memory, go to the spool. */
  function stopPosting(
    batch: Batch,
    outcome: Extract<Outcome, { verdict: 'unauthorized' | 'redirected' }>,
  ): void {
    stoppedPosting = true;
    lastError = redact(outcome.reason);
    // At once, before a later batch can reach the spool ahead of the older ones in memory.
    spill();
    const path = spool?.path ?? spoolPathFor(batch);
    if (outcome.verdict === 'unauthorized') {
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
   * Posts one batch until it is delivered or refused for good ('done'). 'spilled': the outage
   * lasted past spillAfterMs and the batch went to the spool with the rest; 'stopped': the sink
   * stopped, or posting stopped (token refused, redirect); 'gave_up': the sink is closing and will
   * not retry a failing server (see the top of this file), so the batch is left for the spool.
   */
  async function deliver(
    batch: Batch,
    fromSpool: boolean,
    splits: SplitBudget = { left: MAX_SPLITS_PER_BATCH },
  ): Promise<Delivery> {
    const firstFailure = Date.now();
    /** These events were refused as columns and are now sent as objects. */
    let refusedAsColumns = false;
    for (let failures = 0; ; ) {
      if (stopping.signal.aborted) return 'stopped';
      const outcome = await attempt(batch, splits.objectsOnly);
      if (outcome.verdict !== 'retry') failing = false;
      switch (outcome.verdict) {
        case 'delivered':
          refusalsInARow = 0;
          if (refusedAsColumns && !columnsRefused) {
            columnsRefused = true;
            warnOnce(
              'columns_refused',
              `livestep: ${endpoint.host} announces metric columns but refused them, and took the same events as objects; this run sends objects from now on (slower, nothing lost). Update the server, or report the refusal it gave`,
            );
          }
          return 'done';
        case 'refused':
          if (outcome.columns && COLUMN_FORM_REFUSALS.has(outcome.status)) {
            // Perhaps the form, not an event: the same events as objects at once, and the
            // halves too if they are refused again, so a bad event is found as before.
            splits.objectsOnly = true;
            refusedAsColumns = true;
            continue;
          }
          return refused(batch, outcome, fromSpool, splits);
        case 'unauthorized':
        case 'redirected':
          stopPosting(batch, outcome);
          return 'stopped';
        case 'retry': {
          // Cut off by close at the deadline: not the server's failure.
          if (stopping.signal.aborted) return 'stopped';
          failures++;
          failing = true;
          lastError = redact(outcome.reason);
          // Spilled while this request waited (by the request beside it): its events are in the
          // spool, which is replayed in order.
          if (!fromSpool && spooling) return 'spilled';
          if (!fromSpool && !spooling && Date.now() - firstFailure >= spillAfterMs) {
            spill(
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

  /** Whether a batch holds metric points only: such requests may overlap (see below). */
  const metricsOnly = (batch: Batch) => batch.events.every((event) => event.kind === 'metric');

  /**
   * Delivers what is in memory, with up to MAX_REQUESTS_IN_FLIGHT requests at once while the
   * server answers: the next body is built and sent while the server stores the last one, so
   * neither side waits on the other (the points carry their own seq and step, so the order in
   * which the server commits them changes nothing it keeps). A batch with any other event
   * (start, params, done...) goes alone, after every request before it was acknowledged: the
   * done event never overtakes a point, nor params each other. Batches leave memory in order,
   * once acknowledged. Resolves 'done' when memory is empty, else with what stopped it.
   */
  async function deliverFromMemory(): Promise<Delivery> {
    const inFlight: Array<{
      first: Batch;
      taken: number;
      count: number;
      result: Promise<Delivery>;
    }> = [];
    let offset = 0;
    let stoppedWith: Delivery = 'done';
    for (;;) {
      // Start requests while there is room; a failing server gets one at a time.
      while (
        stoppedWith === 'done' &&
        inFlight.length < (failing ? 1 : MAX_REQUESTS_IN_FLIGHT) &&
        !stopping.signal.aborted &&
        !stoppedPosting &&
        !spooling &&
        (inFlight.length === 0 || memory[0] === inFlight[0]!.first)
      ) {
        const first = memory[offset];
        if (first === undefined) break;
        const alone = !metricsOnly(first);
        if (alone && inFlight.length > 0) break;
        // Under a backlog, several queued batches go in one request: fewer round trips.
        let taken = 1;
        let events = first.events;
        const most = requestEvents();
        while (
          !alone &&
          offset + taken < memory.length &&
          events.length + memory[offset + taken]!.events.length <= most &&
          metricsOnly(memory[offset + taken]!)
        ) {
          events = events.concat(memory[offset + taken]!.events);
          taken++;
        }
        inFlight.push({
          first,
          taken,
          count: events.length,
          result: deliver({ ...first, events }, false),
        });
        offset += taken;
        if (alone) break;
      }
      const head = inFlight.shift();
      if (head === undefined) return stoppedWith;
      const result = await head.result;
      offset -= head.taken;
      if (result === 'done') {
        // A spill while this request was in flight already moved its batches to the spool; the
        // replay sends them again, which the server's idempotency by event id absorbs.
        if (memory[0] === head.first) {
          memory.splice(0, head.taken);
          memoryEvents -= head.count;
        } else {
          offset = 0;
        }
      } else if (stoppedWith === 'done') {
        // Nothing new starts; the requests still in flight are awaited, so none outlives the loop.
        stoppedWith = result;
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

  /** Delivers the spool, then memory, in order, until both are empty, the sink closes or posting stops. */
  async function deliverInOrder(): Promise<void> {
    try {
      while (!stopping.signal.aborted && !stoppedPosting) {
        if (spooling) {
          if (spool === undefined || spool.drained) {
            // Everything spooled is delivered: later batches go to memory again, from this very
            // moment (the file is removed synchronously), so none can land in the file deleted.
            spooling = false;
            spoolEvents = 0;
            spool?.remove();
            continue;
          }
          const chunk = await spool.read(requestEvents());
          if (chunk.events.length === 0) {
            spool.acknowledge(chunk.endOffset);
            continue;
          }
          const result = await deliver(
            { protocol: PROTOCOL_VERSION, run: spool.run, events: chunk.events },
            true,
          );
          if (result === 'gave_up') gaveUp = true;
          if (result !== 'done') break;
          spool.acknowledge(chunk.endOffset);
          spoolEvents = Math.max(0, spoolEvents - chunk.events.length);
          continue;
        }
        if (memory[0] === undefined) break;
        const result = await deliverFromMemory();
        if (result === 'spilled') continue;
        if (result === 'gave_up') gaveUp = true;
        if (result !== 'done') break;
      }
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
   * Waits until everything is delivered, posting stopped, delivery gave up (closing while the
   * server fails), or the deadline passed.
   */
  async function whenIdleOrDeadline(deadline: number): Promise<void> {
    while (pending() > 0 && !stoppedPosting && !gaveUp && Date.now() < deadline) {
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
    // Takes custody and returns at once: the dispatcher must never wait on the network. Past the
    // memory bound the batch is written to the spool here, synchronously (see the top of the file).
    send(batch) {
      if (spooling || stoppedPosting) {
        toSpool([batch]);
      } else {
        memory.push(batch);
        memoryEvents += batch.events.length;
        if (memoryEvents > maxMemoryEvents) {
          spill(`more than ${maxMemoryEvents} events are waiting for the server`);
        }
      }
      if (!stoppedPosting) void loop();
    },
    sendSync(batch) {
      // The process is exiting: nothing asynchronous will finish, so write everything down.
      const batches = [...memory.splice(0), batch];
      memoryEvents = 0;
      toSpool(batches);
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
        toSpool(batches);
      }
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
        pending: pending(),
        failedByReason: { ...failedByReason },
      };
      const kept: string[] = [];
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
