/**
 * One call to a ClearML API server (or its file server) and ClearML's status rules (backends.md
 * A.3, A.4), judged into the delivery kit's RequestOutcome; the kit's retry loop does the rest.
 *
 * Every answer is the envelope `{meta: {result_code, result_subcode, result_msg, ...}, data}`, its
 * HTTP status equal to `result_code`. Calls are POSTs (the server does not route by method, A.1)
 * to `{host}/{service}.{action}` with no version in the path, so the server answers with its own
 * newest version of each endpoint.
 *
 * - 2xx with a complete JSON body: delivered (the envelope's `data` is kept for the caller).
 * - 408, 429, 502, 503, 509 and other 5xx (the SDK retries 429, 502, 503 and 509): retried, a
 *   Retry-After honoured; so are no answer, a timeout and a 2xx cut off or not JSON. A 500 (an
 *   error inside the server, often one body it cannot take) is retried a few times only
 *   (clearml-caller.ts), so one such body cannot hold up every later one.
 * - 401 on a call: the token expired or was revoked; the sink logs in again once and resends. A
 *   401 on `auth.login` itself (wrong keys) stops posting, naming the credential variables.
 * - 403, 404 (no such endpoint: not an API server) and 3xx (never followed): posting stops.
 * - Other 4xx (400: a body ClearML refuses, a task in a status that forbids the call): that call
 *   is refused for good, with ClearML's `result_msg` quoted; later calls go on.
 */
import { hostname } from 'node:os';
import { type PostResult, postTo } from '../../delivery/post-request.js';
import { createRedactor } from '../../delivery/redact.js';
import {
  outcomeWithoutAnswer,
  quoteServerMessage,
  type RequestOutcome,
} from '../../delivery/request-outcome.js';
import { parseRetryAfter } from '../../delivery/retry-policy.js';
import type { ClearmlConfig } from './clearml-config.js';

/** The login call (A.3). */
export const CLEARML_LOGIN = 'auth.login';

/** The token of the current login, and the redaction of every secret the sink holds. */
export class ClearmlSession {
  private current: string | undefined;
  private readonly known: string[];
  private redactor: (text: string) => string;

  constructor(secrets: readonly string[]) {
    this.known = [...secrets];
    this.redactor = createRedactor(this.known);
  }

  get token(): string | undefined {
    return this.current;
  }

  /** Takes a new token; old ones stay redacted (a message may still quote one). */
  useToken(token: string): void {
    this.current = token;
    this.known.push(token);
    this.redactor = createRedactor(this.known);
  }

  /** Forgets the token (it expired): the next call logs in first. */
  expire(): void {
    this.current = undefined;
  }

  readonly redact = (text: string): string => this.redactor(text);
}

export interface ClearmlAnswer {
  status: number;
  /** The envelope's `data` (for the file server: the parsed body). */
  data: unknown;
}

export interface ClearmlCall {
  /** `service.action` on the API server, e.g. `events.add_batch`. */
  endpoint: string;
  body: string | Buffer;
  /** Default `application/json`. */
  contentType?: string;
  /** For the file server: its URL (then `endpoint` only names the call in messages). */
  url?: URL;
}

export interface ClearmlTransport {
  config: ClearmlConfig;
  session: ClearmlSession;
  fetch: typeof fetch | undefined;
  timeoutMs: number;
}

const WORKER = hostname();

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** Sends one call; its outcome by ClearML's rules, and the answer when there was one. */
export async function callClearml(
  transport: ClearmlTransport,
  call: ClearmlCall,
  signal: AbortSignal,
  timeoutMs: number,
): Promise<{ outcome: RequestOutcome; answer?: ClearmlAnswer; status?: number }> {
  const { config, session } = transport;
  const login = call.endpoint === CLEARML_LOGIN;
  const authorization = login ? config.loginAuthorization : `Bearer ${session.token ?? ''}`;
  const url = call.url ?? new URL(call.endpoint, config.apiBase);
  const result = await postTo(
    url,
    {
      headers: {
        authorization,
        'content-type': call.contentType ?? 'application/json',
        accept: 'application/json',
        'user-agent': 'livestep-clearml-sink',
        // What the SDK sends (A.2): the worker shows in ClearML's task info.
        'x-clearml-worker': WORKER,
        'x-clearml-client': 'livestep',
      },
      body: call.body,
      timeoutMs: Math.max(1, timeoutMs),
      signal,
    },
    transport.fetch,
  );
  const judged = judgeClearmlAnswer(result, transport, call.endpoint, Math.max(1, timeoutMs));
  return result.answered ? { ...judged, status: result.status } : judged;
}

/** ClearML's status rules (see the top of this file). */
export function judgeClearmlAnswer(
  result: PostResult,
  transport: ClearmlTransport,
  endpoint: string,
  /** The timeout this call had (a deadline may have cut the configured one): said on a timeout. */
  timeoutMs: number = transport.timeoutMs,
): { outcome: RequestOutcome; answer?: ClearmlAnswer } {
  const { config, session } = transport;
  const redact = session.redact;
  if (!result.answered) {
    return {
      outcome: outcomeWithoutAnswer(result, { host: config.origin, timeoutMs }, redact),
    };
  }
  const { status } = result;
  const json = parseJson(result.body) as
    | { meta?: { result_subcode?: unknown; result_msg?: unknown }; data?: unknown }
    | undefined;
  if (status >= 200 && status < 300) {
    if (!result.complete || json === undefined) {
      return {
        outcome: {
          verdict: 'retry',
          reason: `${endpoint} answered ${status} without a complete JSON body`,
        },
      };
    }
    const data = typeof json === 'object' && json !== null && 'meta' in json ? json.data : json;
    return { outcome: { verdict: 'delivered' }, answer: { status, data } };
  }
  const meta = typeof json === 'object' && json !== null ? json.meta : undefined;
  const subcode = typeof meta?.result_subcode === 'number' ? meta.result_subcode : undefined;
  const message = quoteServerMessage(
    typeof meta?.result_msg === 'string' ? meta.result_msg : result.body,
    redact,
  );
  const said = `${status}${subcode === undefined ? '' : `/${subcode}`}${message === '' ? '' : `: ${message}`}`;
  if (status === 408 || status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfter(result.headers['retry-after']);
    return {
      outcome: {
        verdict: 'retry',
        reason: `${endpoint} answered ${said}`,
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
  if (status === 401) {
    return endpoint === CLEARML_LOGIN
      ? {
          outcome: permanent(
            `ClearML refused the credentials (${said}); check ${config.credentialHint}`,
            true,
          ),
        }
      : { outcome: permanent(`${endpoint} answered ${said} (the token expired?)`, false) };
  }
  if (status === 403) {
    return {
      outcome: permanent(
        `ClearML refused ${endpoint} (${said}); the credentials in ${config.credentialHint} may not write there`,
        true,
      ),
    };
  }
  if (status >= 300 && status < 400) {
    return {
      outcome: permanent(
        `${endpoint} answered ${status} (a redirect, not followed: CLEARML_API_HOST must be the API server's own address)`,
        true,
      ),
    };
  }
  if (status === 404) {
    return {
      outcome: permanent(
        `${endpoint} answered ${said} (no such endpoint: is CLEARML_API_HOST the API server, port 8008 by default, rather than the web app?)`,
        true,
      ),
    };
  }
  return { outcome: permanent(`${endpoint} answered ${said}`, false) };
}
