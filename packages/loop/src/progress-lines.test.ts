import { testRunOptions } from '@livestep/test-support';
import { describe, expect, it } from 'vitest';
import { createProgressLines } from './progress-lines.js';
import { ProgressMeter } from './progress-meter.js';
import { captureStream } from './test-support/capture-stream.js';
import { track } from './track.js';

const INTERVAL_MS = 1_000;

/** Plain lines driven by a made-up clock: `at(ms, count)` ticks at that time after the start. */
function linesReporter(total: number | undefined) {
  const stream = captureStream();
  const metrics = new Map<string, number>();
  // A whole number: start + 1000 must be exactly 1000 later (fractions of performance.now() are not).
  const startedAt = 10_000;
  const meter = new ProgressMeter('train', total, metrics, startedAt);
  let count = 0;
  const reporter = createProgressLines({
    mode: 'lines',
    stream,
    meter,
    readCount: () => count,
    lineIntervalMs: INTERVAL_MS,
  });
  return {
    stream,
    metrics,
    at(milliseconds: number, done: number) {
      count = done;
      reporter.tick(startedAt + milliseconds);
    },
    finish(milliseconds: number, done: number, outcome: 'completed' | 'stopped' | 'failed') {
      reporter.finish(outcome, done, startedAt + milliseconds);
    },
    lines: () => stream.text().split('\n').slice(0, -1),
  };
}

describe('plain progress lines (not a TTY)', () => {
  it('one line per 10% at most once per interval, then a final line; no escape codes', () => {
    const lines = linesReporter(1000);
    lines.metrics.set('train/loss', 0.25);
    lines.at(500, 50); // under the interval
    lines.at(1_000, 100); // 10%, interval passed: a line
    lines.at(1_500, 150); // no new mark
    lines.at(1_900, 200); // a new mark, but too soon after the last line
    lines.at(2_100, 210); // now
    lines.at(2_200, 290); // too soon
    lines.finish(3_000, 1000, 'completed');
    const printed = lines.lines();
    expect(printed).toHaveLength(3);
    expect(printed[0]).toMatch(
      /^train 100\/1000 \(10%\) \| \d+\.\d+ it\/s \| 00:01<00:\d\d \| train\/loss=0\.25$/,
    );
    expect(printed[1]).toMatch(/^train 210\/1000 \(21%\) /);
    expect(printed[2]).toBe('train 1000/1000 (100%) | 333.3 it/s | 00:03 | train/loss=0.25 | done');
    expect(lines.stream.text()).not.toMatch(/[\u001b\r]/);
  });

  it('without a total: a line every six intervals while the loop moves', () => {
    const lines = linesReporter(undefined);
    for (let second = 1; second <= 13; second++) lines.at(second * 1000, second * 10);
    expect(lines.lines()).toHaveLength(2);
    expect(lines.lines()[0]).toMatch(/^train 60 it \| /);
    expect(lines.lines()[1]).toMatch(/^train 120 it \| /);
  });

  it('a crawling loop with a total still reports every six intervals', () => {
    const lines = linesReporter(1_000_000);
    for (let second = 1; second <= 7; second++) lines.at(second * 1000, second);
    expect(lines.lines()).toHaveLength(1);
  });

  it('says how the loop ended on the last line', () => {
    const stopped = linesReporter(100);
    stopped.finish(2_000, 40, 'stopped');
    expect(stopped.lines()).toEqual([
      expect.stringMatching(/^train 40\/100 \(40%\) .* \| stopped early$/),
    ]);
    const failed = linesReporter(100);
    failed.finish(2_000, 40, 'failed');
    expect(failed.lines()[0]).toMatch(/\| failed$/);
  });

  it('a piped loop over before the first interval still prints its final line', () => {
    const lines = linesReporter(10);
    lines.at(100, 5);
    lines.finish(200, 10, 'completed');
    expect(lines.lines()).toEqual(['train 10/10 (100%) | 50.00 it/s | 00:00 | done']);
  });
});

describe('track() progress modes, captured from a stream', () => {
  it("'lines' writes plain lines to the stream, with the metrics logged through the loop", async () => {
    const stream = captureStream();
    const { runOptions } = testRunOptions();
    const loop = track(20, {
      description: 'epoch',
      progress: 'lines',
      stream,
      lineIntervalMs: 20,
      runOptions,
    });
    for (const step of loop) {
      loop.logMetric('train/loss', 1 / (step + 1));
      await new Promise((resolve) => setTimeout(resolve, 8));
    }
    await loop.end();
    const printed = stream.text().split('\n').slice(0, -1);
    expect(printed.length).toBeGreaterThanOrEqual(3);
    for (const line of printed) expect(line).toMatch(/^epoch \d+\/20 \(\d+%\) \| .* it\/s \| /);
    expect(printed.at(-1)).toMatch(/^epoch 20\/20 \(100%\) \| .* \| train\/loss=0\.05 \| done$/);
    const counts = printed.map((line) => Number(/^epoch (\d+)/.exec(line)![1]));
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    expect(stream.text()).not.toMatch(/[\u001b\r]/);
  });

  it("'auto' on a stream that is not a TTY (a pipe) writes lines: a loop under 5 s, its final line", async () => {
    const stream = captureStream();
    const { runOptions } = testRunOptions();
    const loop = track(100, { stream, runOptions });
    for (const _ of loop) {
      // fast
    }
    await loop.end();
    expect(stream.text()).toMatch(/^100\/100 \(100%\) \| [\d.]+ it\/s \| 00:00 \| done\n$/);
  });

  it('progress: false writes nothing, even to a terminal', async () => {
    const stream = captureStream({ columns: 80 });
    const { runOptions } = testRunOptions();
    const loop = track(50, { progress: false, stream, runOptions });
    for (const _ of loop) await new Promise((resolve) => setTimeout(resolve, 2));
    await loop.end();
    expect(stream.writes).toEqual([]);
  });
});
