/**
 * One POST to a server and what came back, for the sinks that deliver over HTTP. It tells apart
 * what delivery must tell apart and nothing more:
 *
 * - no answer (refused or reset connection, unknown host, timeout, stopped by the caller);
 * - an answer: its status, the headers a sink reads, and its body, with whether the body arrived
 *   complete (a connection cut in the middle of an answer is not an answer a sink may trust);
 * - a redirect is an answer like any other: it is never followed, so a batch and its token only
 *   ever go to the address the user configured.
 *
 * The default transport is node:http(s) with the socket unref'd: a request in flight does not by
 * itself keep the process alive, so a script that ends without `end()` reaches its exit hooks
 * (which then deliver within their deadline) instead of waiting on a server that hangs. A
 * `fetch` can stand in for it (tests, custom transports); it is called with `redirect: 'manual'`.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/**
 * At most this much of an answer is read. An acknowledgement is a few dozen bytes and an error
 * message a few hundred; a server that streams more must not fill the client's memory.
 */
export const MAX_ANSWER_BYTES = 64 * 1024;

export interface PostOptions {
  headers: Record<string, string>;
  body: string | Buffer;
  /** The whole exchange (connect, send, the complete answer) must fit in this. */
  timeoutMs: number;
  /** Aborting it abandons the request. */
  signal: AbortSignal;
  /**
   * Only for a fetch: `follow` lets it follow redirects (DVC Studio's older addresses redirect to
   * its current one). Default `manual`: a redirect is an answer. The node:http transport never follows.
   */
  redirect?: 'manual' | 'follow';
}

export type PostResult =
  | {
      answered: true;
      status: number;
      /** Header values by lower-case name (the last one when repeated). */
      headers: Record<string, string>;
      /** The body, at most MAX_ANSWER_BYTES of it. */
      body: Buffer;
      /** False when the connection ended (or the timeout came) before the body's end. */
      complete: boolean;
      /** True when the body was longer than MAX_ANSWER_BYTES and reading stopped there. */
      truncated: boolean;
    }
  | {
      answered: false;
      /** `timeout`: no complete exchange in time; `stopped`: the signal aborted; `network`: no connection. */
      reason: 'timeout' | 'stopped' | 'network';
      /** For `network`: the most telling code or message, e.g. ECONNREFUSED. */
      cause: string;
    };

/** The most telling part of a network failure: ECONNREFUSED rather than "fetch failed". */
export function describeNetworkError(error: unknown): string {
  const failure = error as {
    code?: string;
    message?: string;
    cause?: { code?: string; message?: string; errors?: Array<{ code?: string }> };
    errors?: Array<{ code?: string }>;
  };
  const cause = failure?.cause;
  return (
    cause?.code ??
    cause?.errors?.[0]?.code ??
    cause?.message ??
    failure?.code ??
    failure?.errors?.[0]?.code ??
    failure?.message ??
    String(error)
  );
}

function lastValues(headers: IncomingMessage['headers']): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    values[name] = Array.isArray(value) ? (value.at(-1) ?? '') : value;
  }
  return values;
}

/**
 * Failures of a kept-alive connection that the server closed just as it was reused: the request
 * never reached it, so it is sent once more on a new connection (Node's advice for
 * `request.reusedSocket`) rather than taken for a server that cannot be reached.
 */
const STALE_CONNECTION_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

type Exchange = PostResult & { staleConnection?: boolean };

/** POSTs over node:http(s); never follows a redirect; never keeps the process alive by itself. */
export async function postRequest(url: URL, options: PostOptions): Promise<PostResult> {
  const started = Date.now();
  const first = await exchange(url, options);
  if (!first.staleConnection) return first;
  const timeoutMs = Math.max(1, options.timeoutMs - (Date.now() - started));
  const { staleConnection: _, ...second } = await exchange(url, { ...options, timeoutMs });
  return second;
}

function exchange(url: URL, options: PostOptions): Promise<Exchange> {
  return new Promise((resolve) => {
    if (options.signal.aborted) {
      resolve({ answered: false, reason: 'stopped', cause: 'stopped' });
      return;
    }
    let settled = false;
    let timedOut = false;
    let answer: Extract<PostResult, { answered: true }> | undefined;
    const chunks: Buffer[] = [];
    let received = 0;

    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const request = send(url, {
      method: 'POST',
      headers: { ...options.headers, 'content-length': String(Buffer.byteLength(options.body)) },
    });

    const finish = (result: Exchange) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal.removeEventListener('abort', onAbort);
      resolve(result);
    };
    /** The answer as read so far; `complete` says whether its end was reached. */
    const finishAnswer = (complete: boolean) => {
      if (answer === undefined) return;
      finish({ ...answer, body: Buffer.concat(chunks), complete });
    };
    const onFailure = (error: unknown) => {
      if (answer !== undefined) return finishAnswer(false);
      if (timedOut) return finish({ answered: false, reason: 'timeout', cause: 'timeout' });
      if (options.signal.aborted)
        return finish({ answered: false, reason: 'stopped', cause: 'stopped' });
      const cause = describeNetworkError(error);
      const staleConnection = request.reusedSocket && STALE_CONNECTION_CODES.has(cause);
      finish({ answered: false, reason: 'network', cause, staleConnection });
    };
    const onAbort = () => request.destroy(new Error('stopped'));

    // Unref'd: the caller's own timers decide how long the process waits (see the top of the file).
    const timer = setTimeout(() => {
      timedOut = true;
      request.destroy(new Error('timeout'));
    }, options.timeoutMs);
    timer.unref();
    options.signal.addEventListener('abort', onAbort);

    request.on('socket', (socket) => {
      socket.unref();
    });
    request.on('error', onFailure);
    request.on('response', (response) => {
      answer = {
        answered: true,
        status: response.statusCode ?? 0,
        headers: lastValues(response.headers),
        body: Buffer.alloc(0),
        complete: false,
        truncated: false,
      };
      response.on('data', (chunk: Buffer) => {
        if (answer === undefined || answer.truncated) return;
        const room = MAX_ANSWER_BYTES - received;
        if (chunk.length > room) {
          chunks.push(chunk.subarray(0, room));
          received = MAX_ANSWER_BYTES;
          answer.truncated = true;
          finishAnswer(false);
          // The rest is not wanted; the connection is not reused.
          request.destroy();
          return;
        }
        chunks.push(chunk);
        received += chunk.length;
      });
      response.on('end', () => finishAnswer(response.complete));
      response.on('error', onFailure);
      response.on('aborted', () => finishAnswer(false));
      response.on('close', () => finishAnswer(response.complete));
    });
    request.end(options.body);
  });
}

/**
 * The one request function of the delivery kit: over `fetch` when one is given (tests, custom
 * transports, a command that must stay alive while it posts), else over node:http(s).
 */
export function postTo(
  url: URL,
  options: PostOptions,
  fetchFunction?: typeof fetch,
): Promise<PostResult> {
  return fetchFunction === undefined
    ? postRequest(url, options)
    : postWithFetch(fetchFunction, url, options);
}

/** The same exchange over a fetch (which must not follow redirects: `redirect: 'manual'`). */
export async function postWithFetch(
  fetchFunction: typeof fetch,
  url: URL,
  options: PostOptions,
): Promise<PostResult> {
  // Whole milliseconds, at least one: AbortSignal.timeout throws on a fraction.
  const timeout = AbortSignal.timeout(Math.max(1, Math.ceil(options.timeoutMs)));
  const signal = AbortSignal.any([timeout, options.signal]);
  const failed = (error: unknown): PostResult => {
    if (options.signal.aborted) return { answered: false, reason: 'stopped', cause: 'stopped' };
    if (timeout.aborted) return { answered: false, reason: 'timeout', cause: 'timeout' };
    return { answered: false, reason: 'network', cause: describeNetworkError(error) };
  };
  let response: Response;
  try {
    response = await fetchFunction(url, {
      method: 'POST',
      headers: options.headers,
      body: options.body,
      signal,
      redirect: options.redirect ?? 'manual',
    });
  } catch (error) {
    return failed(error);
  }
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name.toLowerCase()] = value;
  });
  const chunks: Buffer[] = [];
  let received = 0;
  let truncated = false;
  let complete = true;
  try {
    const reader = response.body?.getReader();
    while (reader !== undefined) {
      const { done, value } = await reader.read();
      if (done) break;
      const room = MAX_ANSWER_BYTES - received;
      if (value.length > room) {
        chunks.push(Buffer.from(value.subarray(0, room)));
        received = MAX_ANSWER_BYTES;
        truncated = true;
        complete = false;
        await reader.cancel().catch(() => {});
        break;
      }
      chunks.push(Buffer.from(value));
      received += value.length;
    }
  } catch {
    complete = false;
  }
  return {
    answered: true,
    status: response.status,
    headers,
    body: Buffer.concat(chunks),
    complete,
    truncated,
  };
}
