/** The small helpers every delivering sink shares: redaction, throttled warnings, idle waits. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { emitLivestepWarning, LIVESTEP_WARNING_TYPE } from './livestep-warning.js';
import { createRedactor, REDACTED } from './redact.js';
import { createIdleWaiter } from './wait-until.js';
import { createThrottledWarning, createWarnOnce } from './warn-once.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('createRedactor', () => {
  it('replaces every occurrence of every secret, longest first, and ignores empty ones', () => {
    const redact = createRedactor(['abc', undefined, '', 'abcdef']);
    expect(redact('x abcdef y abc z abcdef')).toBe(`x ${REDACTED} y ${REDACTED} z ${REDACTED}`);
    expect(createRedactor([undefined, ''])('nothing secret')).toBe('nothing secret');
  });
});

describe('warnings', () => {
  it('warnOnce passes the first message of each key on, redacted', () => {
    const seen: string[] = [];
    const warnOnce = createWarnOnce((message) => seen.push(message), createRedactor(['t0k']));
    warnOnce('down', 'server down (t0k)');
    warnOnce('down', 'server down again');
    warnOnce('refused', 'refused');
    expect(seen).toEqual([`server down (${REDACTED})`, 'refused']);
  });

  it('a throttled warning is said at most once per interval', () => {
    let now = 0;
    const seen: string[] = [];
    const warn = createThrottledWarning(
      (message) => seen.push(message),
      1_000,
      undefined,
      () => now,
    );
    warn('a');
    now = 999;
    warn('b');
    now = 1_000;
    warn('c');
    expect(seen).toEqual(['a', 'c']);
  });

  it('the default warning goes to process warnings as a LivestepWarning', () => {
    const emitted = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    emitLivestepWarning('livestep: hello');
    expect(emitted).toHaveBeenCalledWith('livestep: hello', { type: LIVESTEP_WARNING_TYPE });
  });
});

describe('createIdleWaiter', () => {
  it('returns when the condition holds, at once on wake()', async () => {
    const idle = createIdleWaiter(60_000);
    let settled = false;
    let looks = 0;
    const waiting = idle.waitUntil(
      () => settled,
      Date.now() + 60_000,
      () => looks++,
    );
    settled = true;
    idle.wake();
    const started = Date.now();
    await waiting;
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(looks).toBe(1);
  });

  it('gives up at the deadline when the condition never holds', async () => {
    const idle = createIdleWaiter(5);
    const started = Date.now();
    await idle.waitUntil(() => false, Date.now() + 30);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
  });
});
