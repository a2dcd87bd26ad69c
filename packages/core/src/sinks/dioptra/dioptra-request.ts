/**
 * Requests to Dioptra's REST API and Dioptra's status rules (backends.md B.3, B.7), judged into
 * the delivery kit's RequestOutcome; the kit's retry loop does the rest.
 *
 * - 2xx: delivered.
 * - 408, 429 and 5xx: retried, a Retry-After honoured; so are no answer and a timeout.
 * - 401: not logged in, or the session expired. The sink logs in again once and resends; a second
 *   401 (or a refused login) stops posting, naming the login's variables.
 * - 403 (the user may not write to the job), 404 (no such job, or no Dioptra API at that address)
 *   and 3xx (never followed): posting stops, for no later point could succeed either.
 * - Other 4xx (400: a name or value Dioptra refuses): that point is refused for good, with
 *   Dioptra's `message` quoted; later points go on.
 *
 * The session: `POST /api/v1/auth/login` sets Flask's session cookie and Flask-Login's remember
 * cookie `dioptra_remember_token`; both are sent back in a Cookie header, and are secrets (they
 * are taken out of every text shown, as the password is).
 */
import { type PostResult, postTo } from '../../delivery/post-request.js';
import { createRedactor } from '../../delivery/redact.js';
import {
  outcomeWithoutAnswer,
  quoteServerMessage,
  type RequestOutcome,
} from '../../delivery/request-outcome.js';
import { parseRetryAfter } from '../../delivery/retry-policy.js';
import type { DioptraConfig } from './dioptra-config.js';

/** The login endpoint (dioptra src/dioptra/restapi/v1/auth/controller.py). */
export const DIOPTRA_LOGIN_PATH = 'auth/login';

/** A cookie value this short could be a word of a message: it is not worth redacting. */
const MIN_REDACTED_COOKIE_LENGTH = 8;

/** The cookies of the current login, and the redaction of every secret the sink holds. */
export class DioptraSession {
  private cookies = new Map<string, string>();
  private redactor: (text: string) => string;

  constructor(private readonly password: string | undefined) {
    this.redactor = createRedactor([password]);
  }

  /** The Cookie header, or undefined before a login. */
  get cookieHeader(): string | undefined {
    if (this.cookies.size === 0) return undefined;
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  /** Takes the cookies a login answer set (each `Set-Cookie` header's `name=value`). */
  store(setCookies: readonly string[]): void {
    for (const header of setCookies) {
      const pair = header.split(';', 1)[0] ?? '';
      const at = pair.indexOf('=');
      if (at <= 0) continue;
      const name = pair.slice(0, at).trim();
      const value = pair.slice(at + 1).trim();
      if (value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    this.redactor = createRedactor([
      this.password,
      ...[...this.cookies.values()].filter((value) => value.length >= MIN_REDACTED_COOKIE_LENGTH),
    ]);
  }

  clear(): void {
    this.cookies.clear();
  }

  readonly redact = (text: string): string => this.redactor(text);
}

export interface DioptraTransport {
  config: DioptraConfig;
  session: DioptraSession;
  fetch: typeof fetch | undefined;
  timeoutMs: number;
}

/**
 * WORKAROUND (the delivery kit's PostResult keeps one value per header, the last, and a login
 * answer sets two cookies): the login goes through postTo's fetch path with a fetch that also
 * hands over every Set-Cookie header, so timeouts, answer limits and the redirect rule stay the
 * kit's. Only the login uses it; metric points go over node:http as every sink's requests do.
 */
function fetchKeepingCookies(base: typeof fetch | undefined, setCookies: string[]): typeof fetch {
  const underlying = base ?? globalThis.fetch;
  return async (input, init) => {
    const response = await underlying(input, init);
    setCookies.push(...response.headers.getSetCookie());
    return response;
  };
}

function headers(transport: DioptraTransport): Record<string, string> {
  const values: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json',
    'user-agent': 'livestep-dioptra-sink',
  };
  const cookie = transport.session.cookieHeader;
  if (cookie !== undefined) values.cookie = cookie;
  return values;
}

/** Logs in; on success the session holds the new cookies. */
export async function loginToDioptra(
  transport: DioptraTransport,
  signal: AbortSignal,
  timeoutMs: number,
): Promise<RequestOutcome> {
  const { login } = transport.config;
  if (login === undefined) return { verdict: 'delivered' };
  const setCookies: string[] = [];
  transport.session.clear();
  const result = await postTo(
    new URL(DIOPTRA_LOGIN_PATH, transport.config.apiBase),
    {
      headers: headers(transport),
      body: JSON.stringify({ username: login.username, password: login.password }),
      timeoutMs: Math.max(1, timeoutMs),
      signal,
    },
    fetchKeepingCookies(transport.fetch, setCookies),
  );
  const outcome = judgeDioptraAnswer(result, transport, 'login', Math.max(1, timeoutMs));
  if (outcome.verdict === 'delivered') {
    transport.session.store(setCookies);
    if (transport.session.cookieHeader === undefined) {
      return {
        verdict: 'retry',
        reason: 'the Dioptra login answered without a session cookie',
      };
    }
  }
  return outcome;
}

/** Posts one metric point (its JSON body) to the job. */
export async function postDioptraMetric(
  transport: DioptraTransport,
  body: string,
  signal: AbortSignal,
  timeoutMs: number,
): Promise<RequestOutcome> {
  const url = new URL(`jobs/${transport.config.jobId}/metrics`, transport.config.apiBase);
  const result = await postTo(
    url,
    { headers: headers(transport), body, timeoutMs: Math.max(1, timeoutMs), signal },
    transport.fetch,
  );
  return judgeDioptraAnswer(result, transport, 'metrics', Math.max(1, timeoutMs));
}

/** Dioptra's status rules (see the top of this file). */
export function judgeDioptraAnswer(
  result: PostResult,
  transport: DioptraTransport,
  call: 'login' | 'metrics',
  /** The timeout this request had (a deadline may have cut the configured one): said on a timeout. */
  timeoutMs: number = transport.timeoutMs,
): RequestOutcome {
  const { config, session } = transport;
  const redact = session.redact;
  if (!result.answered) {
    return outcomeWithoutAnswer(result, { host: config.origin, timeoutMs }, redact);
  }
  const { status } = result;
  const what = call === 'login' ? 'the Dioptra login' : `Dioptra job ${config.jobId}'s metrics`;
  if (status >= 200 && status < 300) return { verdict: 'delivered' };
  const message = quoteServerMessage(result.body, redact);
  const said = `${status}${message === '' ? '' : `: ${message}`}`;
  if (status === 408 || status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfter(result.headers['retry-after']);
    return {
      verdict: 'retry',
      reason: `${what} answered ${said}`,
      ...(retryAfterMs !== undefined && { retryAfterMs }),
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
    const reason =
      call === 'login'
        ? `Dioptra refused the login (${said}); check ${config.credentialHint}`
        : config.login === undefined
          ? `Dioptra wants a login (${said}); set ${config.credentialHint}`
          : `Dioptra refused the session (${said}) after a fresh login; check that ${config.credentialHint} may write to job ${config.jobId}`;
    return permanent(reason, true);
  }
  if (status === 403) {
    return permanent(
      `${what} answered ${said} (the user of ${config.credentialHint} may not write to job ${config.jobId})`,
      true,
    );
  }
  if (status >= 300 && status < 400) {
    return permanent(
      `${what} answered ${status} (a redirect, not followed: DIOPTRA_API must be the REST API's own address)`,
      true,
    );
  }
  if (status === 404) {
    const hint =
      call === 'login'
        ? 'no Dioptra API there: is DIOPTRA_API the server, without /api/v1?'
        : `no job ${config.jobId} (check DIOPTRA_JOB_ID), or no Dioptra API at DIOPTRA_API`;
    return permanent(`${what} answered ${said} (${hint})`, true);
  }
  return permanent(`${what} answered ${said}`, false);
}
