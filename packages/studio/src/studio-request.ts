/**
 * One POST to Studio's api/live and what its answer means. Success is status 200 only (as the
 * reference client); rate limits, timeouts, server errors and network failures can heal and are
 * retried by the caller; 401/403 say the token is wrong; anything else refuses this body for good.
 * The token goes only into the Authorization header.
 */

/** A server message quoted in a warning is cut to this length. */
const MAX_QUOTED_MESSAGE_LENGTH = 300;
/** Statuses that say "try again later" (every 5xx is treated the same way). */
const RETRYABLE_STATUSES = new Set([408, 429]);

export type RequestOutcome =
  | { verdict: 'delivered' }
  | { verdict: 'retry'; reason: string; retryAfter?: string }
  | { verdict: 'unauthorized' | 'rejected'; reason: string; status: number };

export interface StudioRequest {
  fetch: typeof fetch;
  url: URL;
  token: string;
  body: string;
  /** Abandon the request after this long (then it is retried). */
  timeoutMs: number;
  /** Aborts the request when the sink stops. */
  signal: AbortSignal;
}

/** The most telling part of a fetch failure: ECONNREFUSED rather than "fetch failed". */
function describeNetworkError(error: unknown): string {
  const cause = (
    error as { cause?: { code?: string; message?: string; errors?: Array<{ code?: string }> } }
  ).cause;
  return (
    cause?.code ??
    cause?.errors?.[0]?.code ??
    cause?.message ??
    (error instanceof Error ? error.message : String(error))
  );
}

export async function postToStudio(request: StudioRequest): Promise<RequestOutcome> {
  const timeout = AbortSignal.timeout(request.timeoutMs);
  let response: Response;
  try {
    response = await request.fetch(request.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `token ${request.token}`,
      },
      body: request.body,
      signal: AbortSignal.any([timeout, request.signal]),
    });
  } catch (error) {
    const reason = timeout.aborted
      ? `no answer within ${request.timeoutMs} ms`
      : `cannot reach ${request.url.host} (${describeNetworkError(error)})`;
    return { verdict: 'retry', reason };
  }
  if (response.status === 200) {
    await response.body?.cancel().catch(() => {});
    return { verdict: 'delivered' };
  }
  const text = (await response.text().catch(() => ''))
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, MAX_QUOTED_MESSAGE_LENGTH);
  const reason = `DVC Studio answered ${response.status}${text ? `: ${text}` : ''}`;
  if (RETRYABLE_STATUSES.has(response.status) || response.status >= 500) {
    const retryAfter = response.headers.get('retry-after');
    return retryAfter === null
      ? { verdict: 'retry', reason }
      : { verdict: 'retry', reason, retryAfter };
  }
  if (response.status === 401 || response.status === 403) {
    return { verdict: 'unauthorized', reason, status: response.status };
  }
  return { verdict: 'rejected', reason, status: response.status };
}
