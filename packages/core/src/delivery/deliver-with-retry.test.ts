import { describe, expect, it } from 'vitest';
import {
  type DeliverOptions,
  type DeliveryResult,
  deliverWithRetry,
} from './deliver-with-retry.js';
import type { RequestOutcome } from './request-outcome.js';
import type { RetryPolicy } from './retry-policy.js';

/** Waits short enough for a test, long enough to be seen; no test depends on their exact length. */
const FAST: RetryPolicy = {
  initialDelayMs: 5,
  multiplier: 2,
  maxDelayMs: 20,
  jitter: 0,
  maxRetryAfterMs: 50,
};
const retry = (reason = 'server answered 503', retryAfterMs?: number): RequestOutcome =>
  retryAfterMs === undefined
    ? { verdict: 'retry', reason }
    : { verdict: 'retry', reason, retryAfterMs };
const refused = (status: number): RequestOutcome => ({
  verdict: 'permanent',
  reason: `server answered ${status}`,
  status,
  message: 'no',
  stopsPosting: false,
});

/** An attempt function that answers from a script, then delivers; it records what it was sent. */
function scripted<Payload>(answers: RequestOutcome[]) {
  const sent: Payload[] = [];
  const attempt: DeliverOptions<Payload>['attempt'] = async (payload) => {
    sent.push(payload);
    return answers.shift() ?? { verdict: 'delivered' };
  };
  return { sent, attempt };
}

describe('deliverWithRetry', () => {
  it('retries what can heal until it is delivered, with growing waits announced before each', async () => {
    const { sent, attempt } = scripted<string>([retry(), retry(), retry()]);
    const waits: number[] = [];
    const result = await deliverWithRetry('batch', {
      attempt,
      policy: FAST,
      onRetry: ({ waitMs, attempt }) => {
        waits.push(waitMs);
        expect(attempt).toBe(waits.length);
      },
    });
    expect(result).toEqual({ verdict: 'delivered' });
    expect(sent).toEqual(['batch', 'batch', 'batch', 'batch']);
    expect(waits).toEqual([5, 10, 20]);
  });

  it('honours Retry-After, cut to the policy cap', async () => {
    const { attempt } = scripted<string>([retry('429', 30), retry('429', 3_600_000)]);
    const waits: number[] = [];
    await deliverWithRetry('batch', {
      attempt,
      policy: FAST,
      onRetry: ({ waitMs }) => {
        waits.push(waitMs);
      },
    });
    expect(waits).toEqual([30, FAST.maxRetryAfterMs]);
  });

  it('returns a permanent refusal at once, with the server words', async () => {
    const { sent, attempt } = scripted<string>([refused(422)]);
    const result = await deliverWithRetry('batch', { attempt, policy: FAST });
    expect(sent).toHaveLength(1);
    expect(result).toMatchObject({ verdict: 'permanent', outcome: { status: 422, message: 'no' } });
  });

  it('stops after maxAttempts, keeping the last failure', async () => {
    const { sent, attempt } = scripted<string>(Array.from({ length: 10 }, () => retry('down')));
    const result = await deliverWithRetry('batch', { attempt, policy: FAST, maxAttempts: 3 });
    expect(sent).toHaveLength(3);
    expect(result).toEqual({
      verdict: 'stopped',
      why: 'attempts',
      last: { verdict: 'retry', reason: 'down' },
    });
  });

  it('ends a long wait at once when the signal aborts, and starts no attempt after', async () => {
    const { sent, attempt } = scripted<string>([retry('429', 60_000)]);
    const controller = new AbortController();
    const started = Date.now();
    const delivering = deliverWithRetry('batch', {
      attempt,
      policy: { ...FAST, maxRetryAfterMs: 60_000 },
      signal: controller.signal,
      keepAlive: true,
    });
    setTimeout(() => controller.abort(), 20);
    const result = await delivering;
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(result).toMatchObject({ verdict: 'stopped', why: 'aborted' });
    expect(sent).toHaveLength(1);
  });

  it('still ends a wait at once when the signal aborts while onRetry gave a wake signal of its own', async () => {
    const { sent, attempt } = scripted<string>([retry('429', 60_000)]);
    const controller = new AbortController();
    const hookWake = new AbortController();
    const started = Date.now();
    const delivering = deliverWithRetry('batch', {
      attempt,
      policy: { ...FAST, maxRetryAfterMs: 60_000 },
      signal: controller.signal,
      onRetry: () => ({ wakeSignal: hookWake.signal }),
      keepAlive: true,
    });
    setTimeout(() => controller.abort(), 20);
    const result = await delivering;
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(result).toMatchObject({ verdict: 'stopped', why: 'aborted' });
    expect(sent).toHaveLength(1);
  });

  it("does not begin a wait that would pass the deadline ('stop')", async () => {
    const { sent, attempt } = scripted<string>([retry('429', 40_000)]);
    const started = Date.now();
    const result = await deliverWithRetry('batch', {
      attempt,
      policy: { ...FAST, maxRetryAfterMs: 60_000 },
      deadline: Date.now() + 20_000,
    });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(result).toMatchObject({ verdict: 'stopped', why: 'deadline', last: { reason: '429' } });
    expect(sent).toHaveLength(1);
  });

  it("cuts the last wait to the deadline and tries once more there ('try-once-more')", async () => {
    const { sent, attempt } = scripted<string>(Array.from({ length: 10 }, () => retry('429', 40)));
    const waits: number[] = [];
    const result = await deliverWithRetry('batch', {
      attempt,
      policy: FAST,
      deadline: Date.now() + 30,
      atDeadline: 'try-once-more',
      onRetry: ({ waitMs }) => {
        waits.push(waitMs);
      },
    });
    expect(result).toMatchObject({ verdict: 'stopped', why: 'deadline' });
    expect(sent).toHaveLength(2);
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeLessThanOrEqual(30);
  });

  it('lets onRetry stop the loop or shorten the wait', async () => {
    const first = scripted<string>([retry('429', 40)]);
    const stoppedByHook = await deliverWithRetry('batch', {
      attempt: first.attempt,
      policy: FAST,
      onRetry: () => 'stop',
    });
    expect(stoppedByHook).toMatchObject({ verdict: 'stopped', why: 'hook' });
    expect(first.sent).toHaveLength(1);

    const second = scripted<string>([retry('429', 60_000)]);
    const started = Date.now();
    const result = await deliverWithRetry('batch', {
      attempt: second.attempt,
      policy: { ...FAST, maxRetryAfterMs: 60_000 },
      onRetry: () => ({ waitMs: 1 }),
    });
    expect(result).toEqual({ verdict: 'delivered' });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('splits a refused payload through the hook, delivers the parts in order, and settles each', async () => {
    // A server that takes at most 2 items in one request.
    const sent: number[][] = [];
    const settled: Array<[number[], DeliveryResult['verdict']]> = [];
    const result = await deliverWithRetry([1, 2, 3, 4, 5], {
      policy: FAST,
      attempt: async (items) => {
        sent.push(items);
        return items.length > 2 ? refused(413) : { verdict: 'delivered' };
      },
      split: (items, outcome) => {
        if (outcome.status !== 413 || items.length < 2) return undefined;
        const middle = Math.ceil(items.length / 2);
        return [items.slice(0, middle), items.slice(middle)];
      },
      onSettled: (items, end) => settled.push([items, end.verdict]),
    });
    expect(result).toEqual({ verdict: 'delivered' });
    expect(sent).toEqual([[1, 2, 3, 4, 5], [1, 2, 3], [1, 2], [3], [4, 5]]);
    expect(settled).toEqual([
      [[1, 2], 'delivered'],
      [[3], 'delivered'],
      [[4, 5], 'delivered'],
    ]);
  });

  it('reports a part the server still refuses, and goes on with the others', async () => {
    const settled: Array<[number[], DeliveryResult['verdict']]> = [];
    const result = await deliverWithRetry([1, 2, 3, 4], {
      policy: FAST,
      attempt: async (items) => (items.includes(3) ? refused(400) : { verdict: 'delivered' }),
      split: (items) =>
        items.length < 2
          ? undefined
          : [items.slice(0, items.length / 2), items.slice(items.length / 2)],
      onSettled: (items, end) => settled.push([items, end.verdict]),
    });
    expect(result).toMatchObject({ verdict: 'permanent', outcome: { status: 400 } });
    expect(settled).toEqual([
      [[1, 2], 'delivered'],
      [[3], 'permanent'],
      [[4], 'delivered'],
    ]);
  });
});
