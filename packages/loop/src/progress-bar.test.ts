import { testRunOptions } from '@livestep/test-support';
import { beforeAll, describe, expect, it } from 'vitest';
import { formatBarLine } from './progress-bar.js';
import { busyFor, captureStream } from './test-support/capture-stream.js';
import { assertLoopBuilt, runLoopScript } from './test-support/loop-script.js';
import { terminalScreen } from './test-support/terminal-screen.js';
import { track } from './track.js';

/** readline.cursorTo(stream, 0): back to the first column, where each redraw starts. */
const TO_FIRST_COLUMN = '\u001b[1G';
/** readline.clearLine(stream, 1): clears what a longer previous line left on the right. */
const CLEAR_RIGHT = '\u001b[0K';

/** The lines a terminal showed, one per redraw, without escape codes. */
function redraws(output: string): string[] {
  return output
    .split(TO_FIRST_COLUMN)
    .slice(1)
    .map((chunk) => chunk.replace(/\u001b\[[0-9;?]*[A-Za-z]|\u001b[78]|\r|\n/g, ''));
}

describe('the progress bar on a terminal (a stream with isTTY)', () => {
  it('redraws one line in place with percentage, count, elapsed<left, rate and metrics', async () => {
    const stream = captureStream({ columns: 120 });
    const { runOptions } = testRunOptions();
    const loop = track(30, { description: 'train', stream, runOptions });
    for (const step of loop) {
      loop.logMetric('train/loss', 1 / (step + 1));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await loop.end();

    const output = stream.text();
    expect(output).toContain(TO_FIRST_COLUMN);
    expect(output).toContain(CLEAR_RIGHT);
    expect(output.endsWith('\n')).toBe(true);
    const lines = redraws(output);
    expect(lines[0]).toBe(`train   0%|${'░'.repeat(20)}| 0/30 [00:00<?, ? it/s]`);
    expect(lines.at(-1)).toMatch(
      new RegExp(
        `^train 100%\\|${'█'.repeat(20)}\\| 30/30 \\[00:00, \\d+\\.\\d+ it/s\\] train/loss=0\\.03333$`,
      ),
    );
    const middle = lines.slice(1, -1);
    expect(middle.length).toBeGreaterThan(0);
    for (const line of middle) {
      expect(line).toMatch(/^train +\d+%\|[█░]{20}\| \d+\/30 \[00:00<00:0\d, [\d.?]+ it\/s\]/);
    }
  });

  it('throttles redraws: a million fast iterations draw a handful of times', async () => {
    const stream = captureStream({ columns: 120 });
    const { runOptions } = testRunOptions();
    const started = performance.now();
    const loop = track(1_000_000, { stream, runOptions });
    let sum = 0;
    for (const value of loop) sum += value;
    const elapsedMs = performance.now() - started;
    await loop.end();
    expect(sum).toBe(499_999_500_000);
    const lines = redraws(stream.text());
    // At most 10 redraws a second, plus the first and the last.
    expect(lines.length).toBeLessThanOrEqual(Math.ceil(elapsedMs / 100) + 3);
    expect(lines.at(-1)).toMatch(/^100%\|█+\| 1000000\/1000000 /);
  });

  it('redraws from the loop itself when the event loop never turns', async () => {
    const stream = captureStream({ columns: 120 });
    const { runOptions } = testRunOptions();
    const loop = track(50, { stream, runOptions });
    for (const _ of loop) busyFor(10);
    await loop.end();
    // ~500 ms blocked: about five redraws, besides the first and the last.
    expect(redraws(stream.text()).length).toBeGreaterThanOrEqual(5);
  });

  it('cuts the line to the terminal’s width', async () => {
    const stream = captureStream({ columns: 40 });
    const { runOptions } = testRunOptions();
    const loop = track(3, { description: 'a long description', stream, runOptions });
    for (const _ of loop) loop.logMetric('train/a_rather_long_metric_name', 0.5);
    await loop.end();
    for (const line of redraws(stream.text())) expect(line.length).toBeLessThanOrEqual(39);
  });

  it('without a total: a count, elapsed time and rate; on break, says it stopped early', async () => {
    const stream = captureStream({ columns: 120 });
    const { runOptions } = testRunOptions();
    function* endless() {
      for (let index = 0; ; index++) yield index;
    }
    const loop = track(endless(), { description: 'stream', stream, runOptions });
    for (const index of loop) if (index === 9) break;
    await loop.end();
    expect(redraws(stream.text()).at(-1)).toMatch(
      /^stream 10 it \[00:00, [\d.]+ it\/s\] \(stopped early\)$/,
    );
  });

  it("'bar' draws the bar even on a stream that is not a TTY", async () => {
    const stream = captureStream();
    const { runOptions } = testRunOptions();
    const loop = track(5, { progress: 'bar', stream, runOptions });
    for (const _ of loop) {
      // work
    }
    await loop.end();
    expect(redraws(stream.text()).at(-1)).toMatch(/^100%\|█{20}\| 5\/5 /);
  });

  it('at 80 columns never cuts a number, and keeps how the loop ended', () => {
    const metrics = new Map([
      ['train/loss', 0.231_146],
      ['eval/accuracy', 0.951_234],
      ['train/learning_rate', 0.000_125],
    ]);
    const snapshot = {
      description: 'train',
      count: 420,
      total: 1000,
      elapsedMs: 3_000,
      rate: 131.2,
      etaMs: 4_000,
      metrics,
    };
    const running = formatBarLine(snapshot, { width: 79 });
    expect(running.length).toBeLessThanOrEqual(79);
    expect(running).toMatch(
      /^train {2}42%\|[█░]{5,20}\| 420\/1000 \[00:03<00:04, 131\.2 it\/s\] train\/loss=0\.2311( eval\/accuracy=0\.9512)?( …)?$/,
    );
    for (const outcome of ['stopped', 'failed', 'interrupted'] as const) {
      const last = formatBarLine(snapshot, { width: 79, outcome });
      expect(last.length).toBeLessThanOrEqual(79);
      expect(last).toMatch(/ \((stopped early|failed|interrupted)\)$/);
      expect(last).toContain(' 420/1000 [00:03, 131.2 it/s]');
      // Every metric shown is whole: name=value with all of its digits.
      for (const shown of last.matchAll(/ ([a-z_/]+)=([^ ]+)/g)) {
        expect(['0.2311', '0.9512', '1.25e-4']).toContain(shown[2]);
      }
    }
    // Wide enough: everything, with the full bar.
    expect(formatBarLine(snapshot, { width: 200 })).toMatch(
      /\|[█░]{20}\| .* train\/loss=0\.2311 eval\/accuracy=0\.9512 train\/learning_rate=1\.25e-4$/,
    );
    // Narrow: the essentials and the ending, cut at a space, never mid-number.
    const narrow = formatBarLine(snapshot, { width: 30, outcome: 'failed' });
    expect(narrow.length).toBeLessThanOrEqual(30);
    expect(narrow).toMatch(/^ 42% 420\/1000 .*\(failed\)$/);
  });

  it('a track() loop on an 80-column terminal lays the line out to fit', async () => {
    const stream = captureStream({ columns: 80 });
    const { runOptions } = testRunOptions();
    const loop = track(4, { description: 'train', stream, runOptions });
    for (const step of loop) {
      loop.logMetrics({
        'train/loss': 0.123_456 + step,
        'eval/accuracy': 0.654_321,
        'train/epoch_time': 12.5,
      });
      if (step === 2) break;
    }
    await loop.end();
    const lines = redraws(stream.text());
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(79);
    expect(lines.at(-1)).toMatch(
      /^train {2}75%\|[█░]+\| 3\/4 \[00:00, .*\] train\/loss=2\.123 .*\(stopped early\)$/,
    );
  });

  it('formats a failed end with the count reached', () => {
    const line = formatBarLine(
      {
        description: undefined,
        count: 4,
        total: 10,
        elapsedMs: 1_000,
        rate: 4,
        etaMs: 1_500,
        metrics: new Map(),
      },
      { outcome: 'failed' },
    );
    expect(line).toBe(` 40%|${'█'.repeat(8)}${'░'.repeat(12)}| 4/10 [00:01, 4.00 it/s] (failed)`);
  });
});

describe('in a pseudo-terminal (a real process under `script`)', () => {
  beforeAll(assertLoopBuilt);

  it("'auto' draws the bar on a TTY stderr, redrawing in place, and ends with the full bar", async () => {
    const outcome = await runLoopScript(
      `
const loop = track(40, { description: 'train', runOptions: { sinks: [journal], collectGit: false } });
for (const step of loop) {
  const until = performance.now() + 8;
  while (performance.now() < until) {}
  loop.logMetric('train/loss', 1 / (step + 1));
}
`,
      { terminal: true },
    );
    expect(outcome.code, outcome.stdout + outcome.stderr).toBe(0);
    const output = outcome.stdout;
    expect(output).toContain(TO_FIRST_COLUMN);
    expect(output).toContain(CLEAR_RIGHT);
    const lines = redraws(output);
    // ~320 ms: the first draw, a few redraws from the loop itself, and the last.
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(lines[0]).toMatch(/^train +0%\|░{20}\| 0\/40 /);
    expect(lines.at(-1)).toMatch(
      /^train 100%\|█{20}\| 40\/40 \[00:00, [\d.]+ it\/s\] train\/loss=0\.025$/,
    );
    expect(output.endsWith('\r\n')).toBe(true);
  });

  it('console.log and loop.write() during the bar print above it: nothing glued, the last bar intact', async () => {
    const outcome = await runLoopScript(
      `
const loop = track(30, { description: 'train', runOptions: { sinks: [journal], collectGit: false } });
for (const step of loop) {
  const until = performance.now() + 4;
  while (performance.now() < until) {}
  if (step % 10 === 0) console.log('epoch ' + step + ' done');
  if (step === 15) loop.write('checkpoint saved');
  if (step === 20) console.error('warning: slow batch');
  if (step === 25) process.stdout.write('half a line, ');
  if (step === 26) process.stdout.write('the other half\\n');
}
console.log('after the loop');
`,
      { terminal: true },
    );
    expect(outcome.code, outcome.stdout).toBe(0);
    const shown = terminalScreen(outcome.stdout).filter((line) => line !== '');
    expect(shown).toEqual([
      'epoch 0 done',
      'epoch 10 done',
      'checkpoint saved',
      'epoch 20 done',
      'warning: slow batch',
      'half a line, the other half',
      expect.stringMatching(/^train 100%\|█{20}\| 30\/30 \[00:0\d, [\d.]+ it\/s\]$/),
      'after the loop',
    ]);
  });

  it("'lines' in a terminal writes plain lines, no escape codes", async () => {
    const outcome = await runLoopScript(
      `
const loop = track(20, { progress: 'lines', lineIntervalMs: 30, runOptions: { sinks: [journal], collectGit: false } });
for (const step of loop) {
  const until = performance.now() + 10;
  while (performance.now() < until) {}
}
`,
      { terminal: true },
    );
    expect(outcome.code, outcome.stdout).toBe(0);
    expect(outcome.stdout).not.toContain('\u001b');
    const lines = outcome.stdout.split('\r\n').filter(Boolean);
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(lines.at(-1)).toMatch(/^20\/20 \(100%\) \| [\d.]+ it\/s \| 00:00 \| done$/);
  });
});
