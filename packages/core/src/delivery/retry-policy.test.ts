import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  DEFAULT_RETRY_POLICY,
  judgeStatus,
  parseRetryAfter,
} from './retry-policy.js';

describe('retry policy', () => {
  it('retries only what can heal', () => {
    expect([200, 202, 204].map(judgeStatus)).toEqual(['delivered', 'delivered', 'delivered']);
    expect([408, 429, 500, 502, 503, 504].map(judgeStatus)).toEqual(Array(6).fill('retry'));
    expect([401, 403].map(judgeStatus)).toEqual(['unauthorized', 'unauthorized']);
    expect(judgeStatus(413)).toBe('too_large');
    expect([301, 302, 303, 307, 308].map(judgeStatus)).toEqual(Array(5).fill('redirected'));
    expect([400, 404, 409, 422].map(judgeStatus)).toEqual(Array(4).fill('rejected'));
  });

  it('grows exponentially, with jitter, up to the cap', () => {
    const middle = () => 0.5; // no jitter
    expect(
      [1, 2, 3, 4].map((attempt) => backoffDelay(attempt, DEFAULT_RETRY_POLICY, middle)),
    ).toEqual([500, 1000, 2000, 4000]);
    expect(backoffDelay(20, DEFAULT_RETRY_POLICY, middle)).toBe(30_000);
    expect(backoffDelay(1, DEFAULT_RETRY_POLICY, () => 0)).toBe(400);
    expect(backoffDelay(1, DEFAULT_RETRY_POLICY, () => 1)).toBe(600);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-11-23T10:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('0.5', now)).toBe(500);
    expect(parseRetryAfter('Mon, 23 Nov 2026 10:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('Mon, 23 Nov 2026 09:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});
