/**
 * One request to an MLflow tracking server and MLflow's status rules (backends.md D.3), judged
 * into the delivery kit's RequestOutcome; the kit's retry loop does the rest.
 *
 * - 2xx with a complete JSON body: delivered (the body is kept for the caller).
 * - 408, 429 (REQUEST_LIMIT_EXCEEDED), 503 (TEMPORARILY_UNAVAILABLE) and other 5xx: retried, a
 *   Retry-After honoured; so are no answer, a timeout and a 2xx cut off or not JSON.
 * - 401/403: posting stops, with a message naming the credential setting (MLflow tokens are
 *   static: no refresh can help).
 * - 404 (RESOURCE_DOES_NOT_EXIST for the run, ENDPOINT_NOT_FOUND for a wrong URI) and 3xx (never
 *   followed): posting stops, for nothing later could succeed either.
 * - Other 4xx (400 INVALID_PARAMETER_VALUE...): that request is refused for good, with MLflow's
 *   error_code and message quoted; later requests go on.
 * - `accept` turns an expected error into an answer (404 on experiments/get-by-name, 400
 *   RESOURCE_ALREADY_EXISTS on experiments/create).
 */
import { type PostResult, postTo } from '../../delivery/post-request.js';
import {
  outcomeWithoutAnswer,
  quoteServerMessage,
  type RequestOutcome,
} from '../../delivery/request-outcome.js';
import { parseRetryAfter } from '../../delivery/retry-policy.js';
import type { MlflowConfig } from './mlflow-config.js';

export interface MlflowAnswer {
  status: number;
  /** MLflow's `error_code` (e.g. RESOURCE_ALREADY_EXISTS), when the body has one. */
  errorCode?: string;
  /** The parsed body. */
  json: Record<string, unknown>;
}

export interface MlflowCall {
  method: 'GET' | 'POST';
  /** Under the API base, e.g. `runs/log-batch`. */
  path: string;
  /** JSON for a POST; query parameters for a GET. */
  body?: string;
  query?: Record<string, string>;
  /** Which errors are answers, not failures. */
  accept?: (status: number, errorCode: string | undefined) => boolean;
}

export interface MlflowTransport {
  config: MlflowConfig;
  fetch: typeof fetch | undefined;
  timeoutMs: number;
}

function parseObject(body: Buffer): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * WORKAROUND (the delivery kit's `postTo` only POSTs; `experiments/get-by-name` is a GET): a GET
 * sent through postTo's fetch path, with a fetch that drops the body and changes the method, so
 * timeouts, answer limits and the redirect rule stay the kit's. Only the experiment lookup uses it.
 */
function getThroughFetch(base: typeof fetch | undefined): typeof fetch {
  const underlying = base ?? globalThis.fetch;
  return (input, init) => {
    const { body: _, ...rest } = init ?? {};
    const headers = { ...(rest.headers as Record<string, string>) };
    delete headers['content-type'];
    return underlying(input, { ...rest, headers, method: 'GET' });
  };
}

/** Sends one request; its outcome by MLflow's rules, and the answer when there was one. */
export async function requestMlflow(
  transport: MlflowTransport,
  call: MlflowCall,
  signal: AbortSignal,
  timeoutMs: number = transport.timeoutMs,
): Promise<{ outcome: RequestOutcome; answer?: MlflowAnswer }> {
  const url = new URL(call.path, transport.config.apiBase);
  for (const [name, value] of Object.entries(call.query ?? {})) url.searchParams.set(name, value);
  const options = {
    headers: transport.config.headers,
    body: call.body ?? '',
    timeoutMs: Math.max(1, timeoutMs),
    signal,
  };
  const result =
    call.method === 'GET'
      ? await postTo(url, options, getThroughFetch(transport.fetch))
      : await postTo(url, options, transport.fetch);
  return judgeMlflowAnswer(result, transport, call, options.timeoutMs);
}

/** MLflow's status rules (see the top of this file). */
export function judgeMlflowAnswer(
  result: PostResult,
  transport: MlflowTransport,
  call: Pick<MlflowCall, 'path' | 'accept'>,
  /** The timeout this request had (a deadline may have cut the configured one): said on a timeout. */
  timeoutMs: number = transport.timeoutMs,
): { outcome: RequestOutcome; answer?: MlflowAnswer } {
  const { config } = transport;
  const redact = config.redact;
  if (!result.answered) {
    return {
      outcome: outcomeWithoutAnswer(result, { host: config.origin, timeoutMs }, redact),
    };
  }
  const { status } = result;
  const json = parseObject(result.body);
  const errorCode = typeof json?.error_code === 'string' ? json.error_code : undefined;
  const answer: MlflowAnswer = {
    status,
    json: json ?? {},
    ...(errorCode !== undefined && { errorCode }),
  };
  if (status >= 200 && status < 300) {
    if (!result.complete || json === undefined) {
      return {
        outcome: {
          verdict: 'retry',
          reason: `${call.path} answered ${status} without a complete JSON body`,
        },
      };
    }
    return { outcome: { verdict: 'delivered' }, answer };
  }
  if (call.accept?.(status, errorCode) && result.complete)
    return { outcome: { verdict: 'delivered' }, answer };
  const message = quoteServerMessage(result.body, redact);
  const said = `${status}${errorCode === undefined ? '' : ` ${errorCode}`}${message === '' ? '' : `: ${message}`}`;
  if (status === 408 || status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfter(result.headers['retry-after']);
    return {
      outcome: {
        verdict: 'retry',
        reason: `${call.path} answered ${said}`,
        ...(retryAfterMs !== undefined && { retryAfterMs }),
      },
    };
  }
  const permanent = (reason: string, stopsPosting: boolean): RequestOutcome => ({
    verdict: 'permanent',
    reason: redact(reason),
    status,
    message,
    stopsPosting,
  });
  if (status === 401 || status === 403) {
    return {
      outcome: permanent(
        `MLflow refused the credentials (${said}); MLflow tokens do not refresh: check ${config.credentialHint}`,
        true,
      ),
    };
  }
  if (status >= 300 && status < 400) {
    return {
      outcome: permanent(
        `${call.path} answered ${status} (a redirect, not followed: MLFLOW_TRACKING_URI must be the tracking server's own address)`,
        true,
      ),
    };
  }
  if (status === 404) {
    const hint =
      errorCode === 'RESOURCE_DOES_NOT_EXIST'
        ? 'the MLflow run is gone (deleted?)'
        : 'no such endpoint: is MLFLOW_TRACKING_URI the tracking server (without /api/...)?';
    return { outcome: permanent(`${call.path} answered ${said} (${hint})`, true) };
  }
  return { outcome: permanent(`${call.path} answered ${said}`, false), answer };
}
