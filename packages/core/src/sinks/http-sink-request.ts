/**
 * One request of the HTTP sink and its judgement of the answer, with what the server's
 * acknowledgements taught it (whether it takes metric columns, the most events a request may
 * hold). The sink's status rules: a 2xx is delivered only when acknowledged (see
 * http-sink-wire.ts), else retried; a 3xx (never followed) or a refused token (401/403) stops
 * posting; 408, 429 and 5xx are retried, Retry-After honoured; any other 4xx is refused for good.
 * A columns request refused with COLUMN_FORM_REFUSALS goes again at once as objects.
 */
import { describeLocation } from '../delivery/endpoint-url.js';
import { type PostResult, postTo } from '../delivery/post-request.js';
import {
  outcomeWithoutAnswer,
  quoteServerMessage,
  type RequestOutcome,
} from '../delivery/request-outcome.js';
import { judgeStatus, parseRetryAfter } from '../delivery/retry-policy.js';
import type { SpoolWireChunk } from '../delivery/spool.js';
import type { Batch } from '../protocol/events.js';
import { MAX_COLUMNS_REQUEST_EVENTS, MAX_REQUEST_EVENTS } from './http-sink-options.js';
import { COLUMN_FORM_REFUSALS, type SplitBudget } from './http-sink-refusals.js';
import { encodeRequestBody, encodeSpooledBody, readAcknowledgement } from './http-sink-wire.js';

/** One request's worth of events, as the retry loop carries it (a batch, or a half of one). */
export interface Request {
  batch: Batch;
  /** Shared by a batch and its halves. */
  splits: SplitBudget;
  /** When delivery of this request began: the outage it meets is timed from here (spillAfterMs). */
  startedAt?: number;
  /** A columns request of these events was refused, and they now go as objects. */
  refusedAsColumns?: boolean;
  /** Read from the spool: its lines' text goes as it is when the server can take it. */
  spooled?: SpoolWireChunk;
}

/** What attempt() answers once its delivery stopped: the loop, told to stop, ends at once. */
export const STOPPED: RequestOutcome = { verdict: 'retry', reason: 'stopped' };

export interface IngestRequestsConfig {
  endpoint: URL;
  /** Sent as `Authorization: Bearer <token>`. */
  token: string | undefined;
  /** Gzip large bodies (see HttpSinkOptions.compress). */
  compress: boolean;
  timeoutMs: number;
  fetch: typeof fetch | undefined;
  /** Aborting it abandons the request in flight. */
  signal: AbortSignal;
  redact: (text: string) => string;
  warnOnce: (key: string, message: string) => void;
  /** Called on each answer that is not a retry (the server is no longer failing). */
  answered: () => void;
}

export interface IngestRequests {
  /** One attempt at a request (perhaps two posts: see COLUMN_FORM_REFUSALS). */
  attempt(request: Request): Promise<RequestOutcome>;
  /** Events to merge into one request now (see MAX_COLUMNS_REQUEST_EVENTS). */
  requestEvents(): number;
}

export function createIngestRequests(config: IngestRequestsConfig): IngestRequests {
  const { endpoint, redact, warnOnce } = config;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (config.token) headers.authorization = `Bearer ${config.token}`;
  const quote = (body: Buffer) => quoteServerMessage(body, redact);
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
      : Math.max(1, Math.min(MAX_REQUEST_EVENTS, serverMaxBatchEvents));

  /** One request and the sink's judgement of the answer; `columns`: the body held columns. */
  async function post(request: Request, objectsOnly: boolean): Promise<[RequestOutcome, boolean]> {
    const asColumns = serverTakesColumns && !columnsRefused && !objectsOnly;
    const { spooled } = request;
    const wire =
      spooled !== undefined && (asColumns || !spooled.columns)
        ? await encodeSpooledBody(request.batch.run, spooled, config.compress)
        : await encodeRequestBody(request.batch, asColumns, config.compress);
    const requestHeaders = wire.gzipped ? { ...headers, 'content-encoding': 'gzip' } : headers;
    const answer = await postTo(
      endpoint,
      {
        headers: requestHeaders,
        body: wire.body,
        timeoutMs: config.timeoutMs,
        signal: config.signal,
      },
      config.fetch,
    );
    if (!answer.answered) {
      const target = { host: endpoint.host, timeoutMs: config.timeoutMs };
      return [outcomeWithoutAnswer(answer, target, config.redact), wire.columns];
    }
    return [judge(answer), wire.columns];
  }

  /**
   * This sink's status rules: a 2xx is delivered only when acknowledged (else retried); a 3xx (never
   * followed) or a refused token stops posting; 429, 5xx and 408 are retried, Retry-After
   * honoured; any other 4xx is refused for good.
   */
  function judge(answer: Extract<PostResult, { answered: true }>): RequestOutcome {
    const { status } = answer;
    const verdict = judgeStatus(status);
    if (verdict === 'delivered') {
      const acknowledgement = readAcknowledgement(answer, quote);
      if (acknowledgement.problem === undefined) {
        serverTakesColumns = acknowledgement.takesColumns;
        if (acknowledgement.maxBatchEvents !== undefined) {
          serverMaxBatchEvents = acknowledgement.maxBatchEvents;
        }
        return { verdict };
      }
      const { problem } = acknowledgement;
      warnOnce(
        `not_acknowledged:${status}`,
        `livestep: ${endpoint.host} answered ${status} without acknowledging the batch (${problem}); the batch is sent again (event ids keep it from being stored twice). Check that LIVESTEP_URL is a livestep server`,
      );
      return { verdict: 'retry', reason: `server answered ${status} but ${problem}` };
    }
    if (verdict === 'redirected') {
      const target = describeLocation(answer.headers.location, endpoint);
      const reason = `server answered ${status}, redirecting to ${target}; redirects are not followed for ingest`;
      return { verdict: 'permanent', reason, status, message: '', stopsPosting: true };
    }
    const message = quote(answer.body);
    const reason = `server answered ${status}${message ? `: ${message}` : ''}`;
    if (verdict === 'retry') {
      const retryAfterMs = parseRetryAfter(answer.headers['retry-after']);
      return retryAfterMs === undefined ? { verdict, reason } : { verdict, reason, retryAfterMs };
    }
    const stopsPosting = verdict === 'unauthorized';
    return { verdict: 'permanent', reason, status, message, stopsPosting };
  }

  /**
   * One attempt at a request. A columns request refused with COLUMN_FORM_REFUSALS may be refused
   * for its form, not an event: the same events go again at once as objects (their halves too,
   * should they be refused again), so a bad event is found as before.
   */
  async function attempt(request: Request): Promise<RequestOutcome> {
    let [outcome, columns] = await post(request, request.splits.objectsOnly === true);
    if (outcome.verdict !== 'retry') config.answered();
    if (outcome.verdict === 'permanent' && columns && COLUMN_FORM_REFUSALS.has(outcome.status)) {
      request.splits.objectsOnly = true;
      request.refusedAsColumns = true;
      if (config.signal.aborted) return STOPPED;
      [outcome] = await post(request, true);
      if (outcome.verdict !== 'retry') config.answered();
    }
    if (outcome.verdict === 'delivered' && request.refusedAsColumns && !columnsRefused) {
      columnsRefused = true;
      warnOnce(
        'columns_refused',
        `livestep: ${endpoint.host} announces metric columns but refused them, and took the same events as objects; this run sends objects from now on (slower, nothing lost). Update the server, or report the refusal it gave`,
      );
    }
    return outcome;
  }

  return { attempt, requestEvents };
}
