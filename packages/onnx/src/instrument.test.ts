import { startTestRun } from '@livestep/test-support';
import type { InferenceSession } from 'onnxruntime-common';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { instrument } from './instrument.js';
import { createTestSession, identityModel, tensorOf } from './test-support/onnx-model-builder.js';

let session: InferenceSession;
beforeAll(async () => {
  session = await createTestSession(identityModel({ width: 2 }));
});
afterAll(() => session.release());

describe('instrument', () => {
  it('records the latency of every run() call at step = call index, outputs unchanged', async () => {
    const { run, sink } = startTestRun();
    const instrumented = instrument(session, run);
    const feeds = { input: tensorOf([[1, 2]]) };
    for (let call = 0; call < 3; call++) {
      const outputs = await instrumented.run(feeds);
      expect([...(outputs.scores!.data as Float32Array)]).toEqual([1, 2]);
    }
    await run.end();
    const latencies = sink.metrics('inference/latency (ms)');
    expect(latencies.map((event) => event.step)).toEqual([0, 1, 2]);
    for (const event of latencies) expect(event.value).toBeGreaterThan(0);
  });

  it('records every call of a long loop once, in order, timestamped when each call finished', async () => {
    const { run, sink } = startTestRun();
    const instrumented = instrument(session, run);
    const feeds = { input: tensorOf([[1, 2]]) };
    const calls = 1_000; // several buffers' worth, and a partial one left at the end
    const before = Date.now();
    for (let call = 0; call < calls; call++) await instrumented.run(feeds);
    const after = Date.now();
    await run.end();
    const latencies = sink.metrics('inference/latency (ms)');
    expect(latencies.map((event) => event.step)).toEqual(
      Array.from({ length: calls }, (_, index) => index),
    );
    const timestamps = latencies.map((event) => event.ts);
    expect(timestamps).toEqual([...timestamps].sort((a, b) => a - b));
    // Timestamps come from the monotonic clock, anchored to Date.now() once: allow a little drift.
    expect(timestamps[0]).toBeGreaterThanOrEqual(before - 5);
    expect(timestamps.at(-1)).toBeLessThanOrEqual(after + 5);
  });

  it('reaches the sinks while the loop is still going when calls are few and slow', async () => {
    const { run, sink } = startTestRun();
    const instrumented = instrument(session, run);
    await instrumented.run({ input: tensorOf([[1, 2]]) });
    await instrumented.run({ input: tensorOf([[3, 4]]) });
    // No flush, no end: the buffer's age limit and the dispatcher's interval deliver them.
    await vi.waitFor(
      () =>
        expect(sink.metrics('inference/latency (ms)').map((event) => event.step)).toEqual([0, 1]),
      { timeout: 5_000, interval: 50 },
    );
    await run.end();
    expect(sink.metrics('inference/latency (ms)')).toHaveLength(2);
  });

  it('logs what it buffered when the instrumented session is released', async () => {
    const { run, sink } = startTestRun();
    const own = await createTestSession(identityModel({ width: 2 }));
    const instrumented = instrument(own, run);
    await instrumented.run({ input: tensorOf([[1, 2]]) });
    await instrumented.release();
    run.logMetric('marker', 1);
    await run.flush();
    // Logged by release(), before the marker, not later by the flush.
    const [latency] = sink.metrics('inference/latency (ms)');
    expect(latency!.seq).toBeLessThan(sink.metrics('marker')[0]!.seq);
    await expect(own.run({ input: tensorOf([[1, 2]]) })).rejects.toThrow();
    await run.end();
  });

  it('behaves as the session: names, metadata, instanceof, fetches; the original is untouched', async () => {
    const { run, sink } = startTestRun();
    const instrumented = instrument(session, run, { prefix: 'serving/model-a' });
    expect(instrumented.inputNames).toEqual(['input']);
    expect(instrumented.outputNames).toEqual(['scores']);
    expect(instrumented.inputMetadata).toEqual(session.inputMetadata);
    expect(instrumented).toBeInstanceOf(ort.InferenceSession);
    const outputs = await instrumented.run({ input: tensorOf([[3, 4]]) }, ['scores']);
    expect(Object.keys(outputs)).toEqual(['scores']);
    await session.run({ input: tensorOf([[3, 4]]) });
    await run.end();
    expect(sink.metrics('serving/model-a/latency (ms)')).toHaveLength(1);
    expect(Object.hasOwn(session, 'run')).toBe(false);
  });

  it('measures with the clock around the call, and records nothing for a call that throws', async () => {
    const { run, sink } = startTestRun();
    let fail = false;
    const fake = {
      inputNames: [],
      outputNames: [],
      run: async () => {
        if (fail) throw new Error('Session already disposed.');
        return {};
      },
    } as unknown as InferenceSession;
    // Nanoseconds: when instrument() is called, when run() starts, when it returns.
    const clock = [1_000n, 10_000_000n, 12_500_000n];
    vi.spyOn(process.hrtime, 'bigint').mockImplementation(() => clock.shift() ?? 0n);
    const instrumented = instrument(fake, run);
    await instrumented.run({});
    vi.restoreAllMocks();
    fail = true;
    await expect(instrumented.run({})).rejects.toThrow('Session already disposed.');
    await run.end();
    expect(sink.metrics('inference/latency (ms)').map((event) => event.value)).toEqual([2.5]);
  });

  it('records the session as params, and a latency summary (p50/p90/p99, mean) at release', async () => {
    const { run, sink } = startTestRun();
    const own = await createTestSession(identityModel({ width: 2 }));
    const instrumented = instrument(own, run);
    for (let call = 0; call < 5; call++) await instrumented.run({ input: tensorOf([[1, 2]]) });
    await instrumented.release();
    await run.end();
    expect(sink.params()).toEqual({
      inference: {
        model: {
          inputs: { input: { type: 'float32', shape: ['batch', 2] } },
          outputs: { scores: { type: 'float32', shape: ['batch', 2] } },
        },
      },
    });
    const latencies = sink.metrics('inference/latency (ms)').map((event) => event.value as number);
    expect(latencies).toHaveLength(5);
    const [p50] = sink.metrics('inference/latency/p50 (ms)');
    const sorted = [...latencies].sort((a, b) => a - b);
    expect(Math.abs((p50!.value as number) - sorted[2]!) / sorted[2]!).toBeLessThan(0.01);
    expect(sink.metrics('inference/latency/mean (ms)')[0]!.value).toBeCloseTo(
      latencies.reduce((a, b) => a + b) / 5,
      9,
    );
    expect(sink.metrics('inference/latency/p99 (ms)')[0]!.value).toBe(sorted[4]);
    expect(sink.metrics('inference/latency/p90 (ms)')).toHaveLength(1);
    expect(sink.metrics('inference/calls').map((event) => event.value)).toEqual([5]);
  });

  it('records the summary when the run ends with the session never released', async () => {
    const { run, sink } = startTestRun();
    const instrumented = instrument(session, run);
    for (let call = 0; call < 3; call++) await instrumented.run({ input: tensorOf([[1, 2]]) });
    await run.end();
    expect(sink.metrics('inference/calls').map((event) => event.value)).toEqual([3]);
    expect(sink.metrics('inference/latency/p50 (ms)')).toHaveLength(1);
  });

  it('instrumenting twice does not record every call twice: it is refused, naming the fix', async () => {
    const { run, sink } = startTestRun();
    const instrumented = instrument(session, run);
    expect(() => instrument(instrumented, run)).toThrow(
      'livestep: instrument() got a session that instrument() returned, so every call would be recorded twice',
    );
    expect(() => instrument(session, run)).toThrow(
      'livestep: instrument() is already recording this session as "inference/latency (ms)" in run "test-run"',
    );
    // Another prefix or another run is another series; a released wrapper frees its series.
    const other = instrument(session, run, { prefix: 'second' });
    await instrumented.run({ input: tensorOf([[1, 2]]) });
    await run.end();
    expect(sink.metrics('inference/latency (ms)')).toHaveLength(1);
    expect(sink.metrics('second/latency (ms)')).toHaveLength(0);
    const own = await createTestSession(identityModel({ width: 2 }));
    const next = startTestRun();
    const first = instrument(own, next.run);
    await first.release();
    const again = instrument(own, next.run);
    expect(again).not.toBe(first);
    expect(other).not.toBe(instrumented);
    await next.run.end();
  });

  it('warns about an option it does not know (plain JavaScript), naming the one meant', async () => {
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const { run } = startTestRun();
    instrument(session, run, { prefx: 'serving' } as never);
    vi.restoreAllMocks();
    expect(warnings).toHaveBeenCalledWith(
      'livestep: instrument() ignores the option "prefx", which it does not know; did you mean "prefix"?',
      { type: 'LivestepWarning' },
    );
    await run.end();
  });

  it('refuses what is not a session or a run, and a bad prefix', () => {
    const { run } = startTestRun();
    expect(() => instrument({} as never, run)).toThrow(/needs an InferenceSession/);
    expect(() => instrument(session, {} as never)).toThrow(/needs a run/);
    expect(() => instrument(session, run, { prefix: 'a:b' })).toThrow(/contains ":"/);
  });
});
