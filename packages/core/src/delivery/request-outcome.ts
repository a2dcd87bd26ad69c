/**
 * What one request came to, in the three kinds a retry loop needs (OpenTelemetry's
 * ExportResponse: success, retryable, failure): delivered; retry, perhaps after a wait the server
 * asked for; or permanent, with the server's own words. Each sink judges an answer by its own
 * status rules (a `judge` function) and builds these with the helpers here, so the wording of a
 * failure, the quoting of a server's message and the redaction of the token are written once.
 */
import { describeNetworkError, type PostResult } from './post-request.js';

/**
 * A server message quoted in a warning or an error is cut to this length, after the token was
 * taken out of the whole answer (up to MAX_ANSWER_BYTES, far longer), so no cut can leave a piece
 * of the token; a line of a log stays readable.
 */
export const MAX_QUOTED_MESSAGE_LENGTH = 300;
/** Control characters and runs of white space in a quoted message become one space: it must not drive a terminal. */
const CONTROL_OR_SPACE = /[\s\u0000-\u001f\u007f-\u009f]+/g;

export type RequestOutcome =
  | { verdict: 'delivered' }
  | {
      verdict: 'retry';
      /** Why, as it may be shown (already redacted). */
      reason: string;
      /** The wait the server asked for (Retry-After), in ms; the loop caps it. */
      retryAfterMs?: number;
      /** No connection at all (refused, reset, unknown host), as opposed to an answer or a timeout. */
      unreachable?: boolean;
    }
  | {
      verdict: 'permanent';
      /** Why, as it may be shown (already redacted). */
      reason: string;
      /** The status that refused the request. */
      status: number;
      /** The server's own words, quoted (redacted, cut); '' when it said nothing. */
      message: string;
      /** Nothing later can succeed either (a refused token, a redirect): the sink stops posting. */
      stopsPosting: boolean;
    };

export type RetryOutcome = Extract<RequestOutcome, { verdict: 'retry' }>;
export type PermanentOutcome = Extract<RequestOutcome, { verdict: 'permanent' }>;

/**
 * A server's answer as it may be quoted: its `message` when the body is a JSON object that has
 * one, else the text; secrets out first, control characters out, then cut.
 */
export function quoteServerMessage(
  body: string | Buffer,
  redact: (text: string) => string,
): string {
  let text = typeof body === 'string' ? body : body.toString('utf8');
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed?.message === 'string') text = parsed.message;
  } catch {
    // Not JSON: quoted as it is.
  }
  text = redact(text).replace(CONTROL_OR_SPACE, ' ').trim();
  return text.length > MAX_QUOTED_MESSAGE_LENGTH
    ? `${text.slice(0, MAX_QUOTED_MESSAGE_LENGTH)}…`
    : text;
}

/** The outcome of a request that got no answer: always worth a retry. */
export function outcomeWithoutAnswer(
  result: Extract<PostResult, { answered: false }>,
  target: { host: string; timeoutMs: number },
  redact: (text: string) => string,
): RetryOutcome {
  if (result.reason === 'timeout') {
    return { verdict: 'retry', reason: `no answer within ${target.timeoutMs} ms` };
  }
  if (result.reason === 'stopped') return { verdict: 'retry', reason: 'stopped' };
  return {
    verdict: 'retry',
    reason: redact(`cannot reach ${target.host} (${result.cause})`),
    unreachable: true,
  };
}

/** The outcome of an exception thrown by a transport (a custom fetch that fails oddly). */
export function outcomeOfError(
  error: unknown,
  host: string,
  redact: (text: string) => string,
): RetryOutcome {
  return {
    verdict: 'retry',
    reason: redact(`cannot reach ${host} (${describeNetworkError(error)})`),
    unreachable: true,
  };
}
