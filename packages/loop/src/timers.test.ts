import { startTestRun, testRunOptions } from '@livestep/test-support';
import { describe, expect, it, vi } from 'vitest';
import { busyFor, captureStream } from './test-support/capture-stream.js';
import { startTimer, time } from './timers.js';
import { track } from './track.js';

describe('timers', () => {
  it('time() runs a block, returns its value and logs its duration in ms at the current step', async () => {
    const { run, sink } = startTestRun();
    run.setStep(2);
    const value = time(run, 'timing/block (ms)', () => {
      busyFor(20);
      return 42;
    });
    expect(value).toBe(42);
    await run.end();
    const [event] = sink.metrics('timing/block (ms)');
    expect(event!.step).toBe(2);
    expect(event!.value as number).toBeGreaterThanOrEqual(19);
    expect(event!.value as number).toBeLessThan(1_000);
  });

  it('time() waits for an async block and logs in seconds when the name says (s)', async () => {
    const { run, sink } = startTestRun();
    const result = time(run, 'timing/eval (s)', async () => {
      await new Promise((resolve) => setTimeout(resolve, 30));
      return 'done';
    });
    expect(result).toBeInstanceOf(Promise);
    expect(await result).toBe('done');
    await run.end();
    const seconds = sink.metrics('timing/eval (s)')[0]!.value as number;
    expect(seconds).toBeGreaterThanOrEqual(0.025);
    expect(seconds).toBeLessThan(1);
  });

  it('a block that throws or rejects logs nothing, and the error passes through', async () => {
    const { run, sink } = startTestRun();
    expect(() =>
      time(run, 'timing/a (ms)', () => {
        throw new Error('sync');
      }),
    ).toThrow('sync');
    await expect(
      time(run, 'timing/b (ms)', async () => {
        throw new Error('async');
      }),
    ).rejects.toThrow('async');
    await run.end();
    expect(sink.metrics()).toEqual([]);
  });

  it('startTimer() returns a stop function that logs once and returns the duration', async () => {
    const { run, sink } = startTestRun();
    const stop = startTimer(run, 'timing/epoch (ms)');
    busyFor(10);
    const first = stop();
    expect(first).toBeGreaterThanOrEqual(9);
    expect(stop()).toBe(first);
    await run.end();
    expect(sink.metrics('timing/epoch (ms)').map((event) => event.value)).toEqual([first]);
  });

  it('takes (us) (or (µs)), the natural unit for a 10 µs ONNX call', async () => {
    const { run, sink } = startTestRun();
    vi.spyOn(performance, 'now').mockReturnValueOnce(100).mockReturnValueOnce(100.0125);
    const stop = startTimer(run, 'timing/session.run (us)');
    expect(stop()).toBeCloseTo(12.5, 9);
    vi.restoreAllMocks();
    time(run, 'timing/other (µs)', () => busyFor(1));
    await run.end();
    expect(sink.metrics('timing/session.run (us)')[0]!.value).toBeCloseTo(12.5, 9);
    expect(sink.metrics('timing/other (µs)')[0]!.value as number).toBeGreaterThanOrEqual(1000);
  });

  it('names the fix when the name has no unit, is not a metric name, or there is no run', () => {
    const { run } = startTestRun();
    expect(() => startTimer(run, 'timing/eval')).toThrow(
      'livestep: timer "timing/eval" does not say its unit; end the name with " (us)", " (ms)" or " (s)", e.g. "timing/eval (ms)"',
    );
    expect(() => time(run, '../escape (ms)', () => 1)).toThrow(/metric name "\.\.\/escape \(ms\)"/);
    expect(() => time(undefined as never, 'timing/x (ms)', () => 1)).toThrow(
      /pass a run \(startRun\(\)\) or a loop \(track\(\)\)/,
    );
    let ran = false;
    expect(() =>
      time(run, 'no unit', () => {
        ran = true;
      }),
    ).toThrow();
    expect(ran).toBe(false);
    void run.end();
  });

  it('timing into a track() loop shows the value in its progress', async () => {
    const stream = captureStream();
    const { sink, runOptions } = testRunOptions();
    const loop = track(3, { progress: 'lines', lineIntervalMs: 0, stream, runOptions });
    for (const _ of loop) time(loop, 'timing/step (ms)', () => busyFor(2));
    await loop.end();
    expect(sink.metrics('timing/step (ms)').map((event) => event.step)).toEqual([0, 1, 2]);
    expect(stream.text()).toMatch(/timing\/step \(ms\)=\d/);
  });
});
