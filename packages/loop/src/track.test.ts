import type { AnnotationEvent, DoneEvent, MemorySink } from '@livestep/core';
import { startTestRun, testRunOptions } from '@livestep/test-support';
import { describe, expect, it, vi } from 'vitest';
import { captureStream, nextTurn } from './test-support/capture-stream.js';
import { terminalScreen } from './test-support/terminal-screen.js';
import { track } from './track.js';

const quiet = { progress: false } as const;

function done(sink: MemorySink): DoneEvent[] {
  return sink.events.filter((event): event is DoneEvent => event.kind === 'done');
}

function annotations(sink: MemorySink): AnnotationEvent[] {
  return sink.events.filter((event): event is AnnotationEvent => event.kind === 'annotation');
}

async function* generate<T>(values: T[]): AsyncGenerator<T> {
  for (const value of values) {
    await new Promise((resolve) => setTimeout(resolve, 1));
    yield value;
  }
}

describe('track(): steps', () => {
  it('makes each iteration one step: metrics logged in iteration i carry step i', async () => {
    const { sink, runOptions } = testRunOptions();
    const loop = track(['a', 'b', 'c'], { ...quiet, runOptions });
    const seen: Array<[string, number]> = [];
    for (const item of loop) {
      seen.push([item, loop.run.step]);
      loop.logMetric('train/loss', loop.run.step * 10);
      loop.run.logMetric('train/direct', 1);
    }
    await loop.end();
    expect(seen).toEqual([
      ['a', 0],
      ['b', 1],
      ['c', 2],
    ]);
    expect(sink.metrics('train/loss').map((event) => [event.step, event.value])).toEqual([
      [0, 0],
      [1, 10],
      [2, 20],
    ]);
    expect(sink.metrics('train/direct').map((event) => event.step)).toEqual([0, 1, 2]);
    // As after `run.nextStep()` by hand at the end of each iteration.
    expect(loop.run.step).toBe(3);
    expect(loop.count).toBe(3);
  });

  it('track(n) iterates 0..n-1 and knows its total', () => {
    const loop = track(4, quiet);
    expect(loop.total).toBe(4);
    expect([...track(4, { ...quiet, runOptions: testRunOptions().runOptions })]).toEqual([
      0, 1, 2, 3,
    ]);
  });

  it('takes the total from an array’s length or a Set’s size, or from options.total', () => {
    expect(track([1, 2, 3], quiet).total).toBe(3);
    expect(track(new Set(['x', 'y']), quiet).total).toBe(2);
    expect(track(new Map([[1, 2]]), quiet).total).toBe(1);
    expect(track('abc', quiet).total).toBeUndefined();
    function* forever() {
      yield 1;
    }
    expect(track(forever(), quiet).total).toBeUndefined();
    expect(track(forever(), { ...quiet, total: 50 }).total).toBe(50);
  });

  it('continues a given run at its current step and leaves it open', async () => {
    const { run, sink } = startTestRun();
    run.setStep(5);
    const loop = track(3, { ...quiet, run });
    expect(loop.endsRun).toBe(false);
    for (const _ of loop) loop.logMetric('train/loss', 1);
    await nextTurn();
    await run.flush();
    expect(sink.metrics('train/loss').map((event) => event.step)).toEqual([5, 6, 7]);
    expect(run.step).toBe(8);
    expect(run.status).toBe('running');
    expect(() => loop.end()).toThrow(/options\.run, which the loop never ends; call run\.end\(\)/);

    // A second loop on the same run starts on a new step: no step is shared.
    for (const _ of track(2, { ...quiet, run })) run.logMetric('eval/loss', 2);
    expect(run.step).toBe(10);
    await run.end();
    expect(sink.metrics('eval/loss').map((event) => event.step)).toEqual([8, 9]);
  });

  it('an empty source records a run with no step', async () => {
    const { sink, runOptions } = testRunOptions();
    const loop = track([], { ...quiet, runOptions });
    for (const _ of loop) throw new Error('never');
    await loop.end();
    expect(loop.run.step).toBe(0);
    expect(done(sink).map((event) => event.status)).toEqual(['completed']);
  });

  it('starts its own run when iteration begins, not before', () => {
    const { sink, runOptions } = testRunOptions();
    const loop = track(2, { ...quiet, runOptions });
    expect(loop.endsRun).toBe(true);
    expect(sink.events).toHaveLength(0);
    const iterator = loop[Symbol.iterator]();
    expect(loop.run.status).toBe('running');
    expect([...iterator]).toEqual([0, 1]);
  });

  it('can be iterated once', () => {
    const loop = track(2, { ...quiet, runOptions: testRunOptions().runOptions });
    expect([...loop]).toEqual([0, 1]);
    expect([...loop]).toEqual([]);
    const fresh = track(2, { ...quiet, runOptions: testRunOptions().runOptions });
    fresh.next();
    expect(() => fresh[Symbol.iterator]()).not.toThrow();
  });
});

describe('track(): nested loops', () => {
  it('the inner loop over the same run does not step: epoch metrics at steps 0, 1, 2', async () => {
    const { sink, runOptions } = testRunOptions();
    const epochs = track(3, { ...quiet, runOptions });
    for (const epoch of epochs) {
      for (const batch of track(5, { ...quiet, run: epochs.run })) {
        epochs.run.logMetric('train/batch_loss', batch);
      }
      epochs.logMetric('train/loss', epoch);
    }
    await epochs.end();
    expect(sink.metrics('train/loss').map((event) => event.step)).toEqual([0, 1, 2]);
    // The inner iterations log at their epoch's step.
    expect(sink.metrics('train/batch_loss').map((event) => event.step)).toEqual([
      0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2,
    ]);
    expect(epochs.run.step).toBe(3);
  });

  it('for await, and async sources, nest the same way', async () => {
    const { sink, runOptions } = testRunOptions();
    const epochs = track(2, { ...quiet, runOptions });
    for await (const epoch of epochs) {
      for await (const _ of track(generate([1, 2, 3]), { ...quiet, run: epochs.run })) {
        // a batch
      }
      epochs.logMetric('train/loss', epoch);
    }
    await epochs.end();
    expect(sink.metrics('train/loss').map((event) => event.step)).toEqual([0, 1]);
  });

  it('advanceStep decides: true makes an inner loop step, false keeps a loop from stepping', async () => {
    const { run, sink } = startTestRun();
    const outer = track(2, { ...quiet, run });
    for (const _ of outer) {
      for (const batch of track(2, { ...quiet, run, advanceStep: true })) {
        run.logMetric('inner', batch);
      }
    }
    await run.flush();
    expect(sink.metrics('inner').map((event) => event.step)).toEqual([0, 1, 3, 4]);
    const still = run.step;
    for (const value of track(3, { ...quiet, run, advanceStep: false }))
      run.logMetric('flat', value);
    await run.end();
    expect(sink.metrics('flat').map((event) => event.step)).toEqual([still, still, still]);
    expect(() => track(1, { advanceStep: 'no' as never })).toThrow(/option advanceStep got/);
  });

  it('sequential loops over one run are not nested: each steps', async () => {
    const { run, sink } = startTestRun();
    for (const value of track(2, { ...quiet, run })) run.logMetric('train', value);
    for (const value of track(2, { ...quiet, run })) run.logMetric('eval', value);
    await run.end();
    expect(sink.metrics('eval').map((event) => event.step)).toEqual([2, 3]);
  });

  it('on a terminal, each inner bar leaves its last line and the outer bar ends below them', async () => {
    const stream = captureStream({ columns: 100 });
    const { runOptions } = testRunOptions();
    const epochs = track(2, { description: 'epoch', stream, runOptions });
    for (const _ of epochs) {
      for (const _batch of track(3, { description: 'batch', stream, run: epochs.run })) {
        // a batch
      }
    }
    await epochs.end();
    const shown = terminalScreen(stream.text()).filter((line) => line !== '');
    expect(shown).toEqual([
      expect.stringMatching(/^batch 100%\|█{20}\| 3\/3 /),
      expect.stringMatching(/^batch 100%\|█{20}\| 3\/3 /),
      expect.stringMatching(/^epoch 100%\|█{20}\| 2\/2 /),
    ]);
  });
});

describe('track(): a finished loop', () => {
  it('iterated again runs 0 times, with a warning once', async () => {
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const loop = track(2, { ...quiet, runOptions: testRunOptions().runOptions });
    expect([...loop]).toEqual([0, 1]);
    expect([...loop]).toEqual([]);
    for await (const _ of loop) {
      // nothing
    }
    expect(warnings.mock.calls.map(([message]) => message)).toEqual([
      'livestep: this track() loop has already finished (2 iterations), so iterating it again runs 0 times; call track() again for another pass',
    ]);
    vi.restoreAllMocks();
    await loop.end();
  });
});

describe('track(): how the loop ends decides the status of its own run', () => {
  it('completed when the values run out, with done recorded once', async () => {
    const { sink, runOptions } = testRunOptions();
    const loop = track(3, { ...quiet, runOptions });
    for (const _ of loop) {
      // work
    }
    expect(loop.run.status).toBe('completed');
    const report = await loop.end();
    expect(report.ok).toBe(true);
    expect(await loop.end()).toBe(report);
    expect(done(sink)).toHaveLength(1);
    expect(annotations(sink)).toEqual([]);
  });

  it('break: completed on the next turn of the event loop, with a note that it stopped early', async () => {
    const { sink, runOptions, warnings } = testRunOptions();
    const loop = track(10, { ...quiet, runOptions });
    for (const step of loop) {
      loop.logMetric('train/loss', 1 / (step + 1));
      if (step === 3) break;
    }
    // Still open right after the loop: an exception on its way out would get there first.
    expect(loop.run.status).toBe('running');
    expect(loop.run.step).toBe(4);
    expect(loop.count).toBe(4);
    await nextTurn();
    expect(loop.run.status).toBe('completed');
    await loop.end();
    const [note] = annotations(sink);
    expect(note).toMatchObject({ level: 'info', step: 3 });
    expect(note!.text).toBe(
      'loop stopped early, in iteration 4 of 10 (break, return, or an exception the program caught)',
    );
    expect(done(sink).map((event) => event.status)).toEqual(['completed']);
    expect(warnings).toEqual([]);
  });

  it('break, then logging right after the loop, still lands in the run', async () => {
    const { sink, runOptions } = testRunOptions();
    const loop = track(10, { ...quiet, runOptions });
    for (const step of loop) if (step === 1) break;
    loop.logMetric('eval/loss', 0.5);
    await loop.end();
    expect(sink.metrics('eval/loss').map((event) => event.step)).toEqual([2]);
  });

  it('an exception the program catches: loop.end("failed", { error }) in the catch records it', async () => {
    const { sink, runOptions } = testRunOptions();
    const loop = track(10, { ...quiet, runOptions });
    const error = new Error('out of memory');
    try {
      for (const step of loop) if (step === 2) throw error;
    } catch (caught) {
      await loop.end('failed', { error: caught });
    }
    await nextTurn();
    expect(loop.run.status).toBe('failed');
    const [event] = done(sink);
    expect(event).toMatchObject({ status: 'failed', error: { message: 'out of memory' } });
    expect(done(sink)).toHaveLength(1);
    expect(annotations(sink)).toEqual([]);
  });

  it('an exception the program catches and ignores: completed, with the note (the documented limit)', async () => {
    const { sink, runOptions } = testRunOptions();
    const loop = track(10, { ...quiet, runOptions });
    try {
      for (const step of loop) if (step === 2) throw new Error('ignored');
    } catch {
      // swallowed
    }
    await nextTurn();
    expect(loop.run.status).toBe('completed');
    await loop.end();
    expect(annotations(sink)).toHaveLength(1);
  });

  it('failed when a program sets process.exitCode after catching (as `main().catch(...)` does)', async () => {
    const { runOptions } = testRunOptions();
    const loop = track(10, { ...quiet, runOptions });
    const previous = process.exitCode;
    try {
      for (const step of loop) if (step === 2) throw new Error('boom');
    } catch {
      process.exitCode = 1;
    }
    try {
      await nextTurn();
      expect(loop.run.status).toBe('failed');
    } finally {
      process.exitCode = previous;
    }
  });

  it('failed, with the error, when the source throws (the loop sees that one)', async () => {
    const { sink, runOptions } = testRunOptions();
    function* flaky() {
      yield 1;
      throw new Error('corrupt batch');
    }
    const loop = track(flaky(), { ...quiet, runOptions });
    expect(() => {
      for (const _ of loop) loop.logMetric('train/loss', 1);
    }).toThrow('corrupt batch');
    expect(loop.run.status).toBe('failed');
    await loop.end();
    expect(done(sink)[0]).toMatchObject({ status: 'failed', error: { message: 'corrupt batch' } });
  });

  it('a given run is never ended, however the loop ends', async () => {
    const { run } = startTestRun();
    for (const step of track(5, { ...quiet, run })) if (step === 1) break;
    try {
      for (const step of track(5, { ...quiet, run })) if (step === 1) throw new Error('x');
    } catch {
      // the program's own
    }
    await nextTurn();
    expect(run.status).toBe('running');
    expect(run.step).toBe(4);
    await run.end();
  });

  it('calls the source’s return() on break, so its finally blocks run', () => {
    let closed = false;
    function* source() {
      try {
        yield 1;
        yield 2;
      } finally {
        closed = true;
      }
    }
    const { runOptions } = testRunOptions();
    for (const _ of track(source(), { ...quiet, runOptions })) break;
    expect(closed).toBe(true);
  });
});

describe('track() over async iterables', () => {
  it('steps, completion and the run’s status with for await', async () => {
    const { sink, runOptions } = testRunOptions();
    const loop = track(generate(['a', 'b', 'c']), { ...quiet, runOptions });
    expect(loop.total).toBeUndefined();
    const seen: string[] = [];
    for await (const item of loop) {
      seen.push(item);
      loop.logMetric('train/loss', seen.length);
    }
    expect(seen).toEqual(['a', 'b', 'c']);
    expect(loop.run.status).toBe('completed');
    await loop.end();
    expect(sink.metrics('train/loss').map((event) => event.step)).toEqual([0, 1, 2]);
  });

  it('break: the source is closed, then the run ends completed with the note', async () => {
    const { sink, runOptions } = testRunOptions();
    let closed = false;
    async function* source() {
      try {
        for (let index = 0; ; index++) yield index;
      } finally {
        await new Promise((resolve) => setTimeout(resolve, 5));
        closed = true;
      }
    }
    const loop = track(source(), { ...quiet, runOptions });
    for await (const index of loop) if (index === 2) break;
    expect(closed).toBe(true);
    await nextTurn();
    expect(loop.run.status).toBe('completed');
    await loop.end();
    expect(annotations(sink)[0]!.text).toMatch(/^loop stopped early, in iteration 3 \(/);
  });

  it('failed when the async source rejects', async () => {
    const { runOptions } = testRunOptions();
    async function* source() {
      yield 1;
      throw new Error('network down');
    }
    const loop = track(source(), { ...quiet, runOptions });
    await expect(async () => {
      for await (const _ of loop) {
        // work
      }
    }).rejects.toThrow('network down');
    expect(loop.run.status).toBe('failed');
  });

  it('a sync source works in for await too', async () => {
    const { runOptions } = testRunOptions();
    const loop = track([1, 2], { ...quiet, runOptions });
    const seen: number[] = [];
    for await (const value of loop) seen.push(value);
    expect(seen).toEqual([1, 2]);
    expect(loop.run.status).toBe('completed');
  });
});

describe('track(): system metrics', () => {
  it('records system/... metrics at the loop’s steps while it runs, and nothing after', async () => {
    const { sink, runOptions } = testRunOptions();
    const loop = track(5, {
      ...quiet,
      runOptions,
      systemMetrics: { intervalMs: 100, gpu: false },
    });
    for (const _ of loop) await new Promise((resolve) => setTimeout(resolve, 60));
    await loop.run.flush();
    const steps = sink.metrics('system/ram/usage (GB)').map((event) => event.step);
    expect(steps.length).toBeGreaterThanOrEqual(2);
    expect(steps.every((step) => step >= 0 && step <= 4)).toBe(true);
    expect(sink.metrics('system/cpu/count')).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 250));
    await loop.end();
    expect(sink.metrics('system/ram/usage (GB)')).toHaveLength(steps.length);
  });

  it('a loop shorter than the interval gets one sample, at its last iteration’s step', async () => {
    const { sink, runOptions } = testRunOptions();
    const loop = track(5, { ...quiet, runOptions, systemMetrics: true });
    for (const _ of loop) {
      // faster than the default 5 s interval
    }
    await loop.end();
    const names = [...new Set(sink.metrics().map((event) => event.name))];
    expect(names.filter((name) => name.startsWith('system/')).length).toBeGreaterThanOrEqual(10);
    expect(new Set(sink.metrics().map((event) => event.step))).toEqual(new Set([4]));
  });

  it('samples from the iteration path in a loop that never yields', async () => {
    const { sink, runOptions } = testRunOptions();
    const loop = track(50, {
      ...quiet,
      runOptions,
      systemMetrics: { intervalMs: 100, gpu: false },
    });
    for (const _ of loop) {
      const until = performance.now() + 10;
      while (performance.now() < until) {
        // a synchronous training step
      }
    }
    await loop.end();
    // ~500 ms of a blocked event loop: a sample about every 100 ms all the same.
    expect(sink.metrics('system/cpu/usage (%)').length).toBeGreaterThanOrEqual(3);
  });

  it('is off by default', async () => {
    const { sink, runOptions } = testRunOptions();
    const loop = track(3, { ...quiet, runOptions });
    for (const _ of loop) {
      // work
    }
    await loop.end();
    expect(sink.metrics().filter((event) => event.name.startsWith('system/'))).toEqual([]);
  });
});

describe('track(): mistakes are named with their fix', () => {
  it.each([
    ['a negative count', () => track(-1), /count -1; pass a whole number >= 0/],
    ['a fractional count', () => track(2.5), /count 2\.5/],
    [
      'an object that is not iterable',
      () => track({} as never),
      /got an object; pass a count, an array, or any iterable/,
    ],
    ['null', () => track(null as never), /got null/],
    ['a negative total', () => track(3, { total: -2 }), /option total got -2/],
    [
      'an unknown progress mode',
      () => track(3, { progress: 'yes' as never }),
      /option progress got "yes"; use 'auto'/,
    ],
    [
      'a stream without write()',
      () => track(3, { stream: {} as never }),
      /option stream got an object; pass a writable/,
    ],
    [
      'systemMetrics neither boolean nor options',
      () => track(3, { systemMetrics: 'on' as never }),
      /option systemMetrics got the string "on"/,
    ],
    [
      'a negative line interval',
      () => track(3, { lineIntervalMs: -1 }),
      /option lineIntervalMs got -1/,
    ],
    [
      'both run and runOptions',
      () => track(3, { run: startTestRun().run, runOptions: {} }),
      /both run and runOptions; .*pass one or the other/,
    ],
    [
      'a run that is not a run',
      () => track(3, { run: {} as never }),
      /option run got an object; pass a run from startRun\(\)/,
    ],
    [
      'a negative endTimeoutMs',
      () => track(3, { endTimeoutMs: -1 }),
      /option endTimeoutMs got number -1; pass a number of milliseconds >= 0/,
    ],
    [
      'an endTimeoutMs that is not a number',
      () => track(3, { endTimeoutMs: '5000' as never }),
      /option endTimeoutMs got the string "5000"/,
    ],
    ['an infinite endTimeoutMs', () => track(3, { endTimeoutMs: Infinity }), /endTimeoutMs got/],
    [
      'endTimeoutMs with a run passed in',
      () => track(3, { run: startTestRun().run, endTimeoutMs: 100 }),
      /both run and endTimeoutMs; .*run\.end\(\{ timeoutMs \}\)/,
    ],
  ])('%s', (_label, call, message) => {
    expect(call).toThrow(message);
  });

  it('a bad metric throws at once, naming it, and the loop goes on', async () => {
    const { runOptions } = testRunOptions();
    const loop = track(2, { ...quiet, runOptions });
    for (const _ of loop) {
      expect(() => loop.logMetric('train/loss', '0.3' as never)).toThrow(/metric "train\/loss"/);
    }
    expect(loop.run.status).toBe('completed');
  });
});
