import { describe, expect, it } from 'vitest';
import { abortableSleep } from './abortable-sleep.js';

describe('abortableSleep', () => {
  it('waits the time it is given', async () => {
    const started = performance.now();
    await abortableSleep(50, new AbortController().signal);
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
  });

  it('ends at once when the signal aborts, or has aborted already', async () => {
    const controller = new AbortController();
    const started = performance.now();
    const waiting = abortableSleep(60_000, controller.signal);
    setTimeout(() => controller.abort(), 10);
    await waiting;
    await abortableSleep(60_000, controller.signal);
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});
