/**
 * Guessing the token is slowed down: a client address that sent MAX_FAILED_ATTEMPTS wrong tokens
 * (or session cookies; a request with none is no guess) within a minute gets 429 with Retry-After for the rest of that minute,
 * without its token being looked at, so a guess there learns nothing. A right token from that
 * address waits too: better a minute's wait after a mistyped token than an open door for a
 * short one.
 */
import type { FastifyReply } from 'fastify';
import { HttpError, sendError } from '../http/http-error.js';

/** Wrong tokens one client address may send in a window before it has to wait. */
export const MAX_FAILED_ATTEMPTS = 20;
export const FAILED_ATTEMPTS_WINDOW_MS = 60_000;
/** Addresses tracked at most; past it the oldest windows are forgotten (memory stays bounded). */
const MAX_TRACKED_ADDRESSES = 10_000;

/** Failed attempts per client address, in fixed windows. */
export class FailedAttempts {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(readonly limit: number = MAX_FAILED_ATTEMPTS) {
    if (!(limit >= 1)) {
      throw new TypeError(
        `livestep: maxFailedTokenAttempts must be a number >= 1 (Infinity for no limit), got ${String(limit)}`,
      );
    }
  }

  /** Milliseconds the address must wait, or 0 when it may try. */
  waitFor(address: string, now: number): number {
    const window = this.windows.get(address);
    if (window === undefined || now - window.start >= FAILED_ATTEMPTS_WINDOW_MS) return 0;
    return window.count >= this.limit ? window.start + FAILED_ATTEMPTS_WINDOW_MS - now : 0;
  }

  record(address: string, now: number): void {
    const window = this.windows.get(address);
    if (window === undefined || now - window.start >= FAILED_ATTEMPTS_WINDOW_MS) {
      if (this.windows.size >= MAX_TRACKED_ADDRESSES) {
        const oldest = this.windows.keys().next().value;
        if (oldest !== undefined) this.windows.delete(oldest);
      }
      this.windows.delete(address);
      this.windows.set(address, { start: now, count: 1 });
      return;
    }
    window.count++;
  }
}

/**
 * Answers 429 (with Retry-After) when the client's address has to wait after wrong tokens;
 * true when it did.
 */
export function refuseWhileWaiting(
  failures: FailedAttempts,
  address: string,
  reply: FastifyReply,
): boolean {
  const waitMs = failures.waitFor(address, Date.now());
  if (waitMs <= 0) return false;
  reply.header('retry-after', String(Math.ceil(waitMs / 1000)));
  sendError(
    reply,
    new HttpError(
      429,
      'too_many_failed_attempts',
      `${failures.limit} wrong tokens came from this address within a minute; wait ${Math.ceil(waitMs / 1000)} s before trying again`,
    ),
  );
  return true;
}
