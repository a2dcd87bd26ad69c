/**
 * One POST to Studio's api/live and what its answer means: Studio's own status rules, the rest is
 * core's delivery kit (the request, the quoting of the answer, the retry loop). Success is status
 * 200 only (as the reference client); rate limits, timeouts, server errors and network failures
 * can heal and are retried; 401/403 say the token is wrong (posting stops); anything else refuses
 * this body for good. The token goes only into the Authorization header.
 */
import {
  outcomeWithoutAnswer,
  type PostResult,
  parseRetryAfter,
  postTo,
  quoteServerMessage,
  type RequestOutcome,
} from '@livestep/core/sink-kit';

/** Statuses that say "try again later" (every 5xx is treated the same way). */
const RETRYABLE_STATUSES = new Set([408, 429]);

export interface StudioRequest {
  fetch: typeof fetch;
  url: URL;
  token: string;
  body: string;
  /** Abandon the request after this long (then it is retried). */
  timeoutMs: number;
  /** Aborts the request when the sink stops. */
  signal: AbortSignal;
  /** Takes the token (and any other secret) out of what is quoted. */
  redact: (text: string) => string;
}

/** Studio's status rules, for an answer that came. */
export function judgeStudioAnswer(
  answer: Extract<PostResult, { answered: true }>,
  redact: (text: string) => string,
): RequestOutcome {
  const { status } = answer;
  if (status === 200) return { verdict: 'delivered' };
  const message = quoteServerMessage(answer.body, redact);
  const reason = `DVC Studio answered ${status}${message ? `: ${message}` : ''}`;
  if (RETRYABLE_STATUSES.has(status) || status >= 500) {
    const retryAfterMs = parseRetryAfter(answer.headers['retry-after']);
    return retryAfterMs === undefined
      ? { verdict: 'retry', reason }
      : { verdict: 'retry', reason, retryAfterMs };
  }
  const stopsPosting = status === 401 || status === 403;
  return { verdict: 'permanent', reason, status, message, stopsPosting };
}

export async function postToStudio(request: StudioRequest): Promise<RequestOutcome> {
  const answer = await postTo(
    request.url,
    {
      headers: { 'content-type': 'application/json', authorization: `token ${request.token}` },
      body: request.body,
      timeoutMs: request.timeoutMs,
      signal: request.signal,
      // Studio's older addresses (studio.dvc.ai, studio.iterative.ai) redirect to its current one.
      redirect: 'follow',
    },
    request.fetch,
  );
  if (!answer.answered) {
    return outcomeWithoutAnswer(
      answer,
      { host: request.url.host, timeoutMs: request.timeoutMs },
      request.redact,
    );
  }
  return judgeStudioAnswer(answer, request.redact);
}
