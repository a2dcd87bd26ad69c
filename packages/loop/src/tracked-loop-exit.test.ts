/**
 * How a loop's own run ends when the program ends in each way a user's would, in real processes:
 * completion, `break`, an uncaught exception in a `for` body (CommonJS-like top level and ES module
 * top level), an unhandled rejection out of `for await`, `main().catch(...)` setting exitCode,
 * and `trackEach()`.
 */
import type { AnnotationEvent, DoneEvent, RunEvent } from '@livestep/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertLoopBuilt, runLoopScript } from './test-support/loop-script.js';

const RUN_OPTIONS = `{ sinks: [journal], collectGit: false }`;

const doneOf = (events: RunEvent[]) =>
  events.filter((event): event is DoneEvent => event.kind === 'done');
const notesOf = (events: RunEvent[]) =>
  events.filter((event): event is AnnotationEvent => event.kind === 'annotation');
const stepsOf = (events: RunEvent[], name: string) =>
  events.flatMap((event) => (event.kind === 'metric' && event.name === name ? [event.step] : []));

beforeAll(assertLoopBuilt);

describe('the status of a loop’s own run, in a real process', () => {
  it('completed when the loop runs out', async () => {
    const outcome = await runLoopScript(`
const loop = track(3, { progress: false, runOptions: ${RUN_OPTIONS} });
for (const step of loop) loop.logMetric('train/loss', step);
`);
    expect(outcome.code, outcome.stderr).toBe(0);
    expect(doneOf(outcome.events)).toEqual([expect.objectContaining({ status: 'completed' })]);
    expect(stepsOf(outcome.events, 'train/loss')).toEqual([0, 1, 2]);
    expect(notesOf(outcome.events)).toEqual([]);
  });

  it('completed, with a note, after break', async () => {
    const outcome = await runLoopScript(`
const loop = track(10, { progress: false, runOptions: ${RUN_OPTIONS} });
for (const step of loop) {
  loop.logMetric('train/loss', step);
  if (step === 4) break;
}
`);
    expect(outcome.code, outcome.stderr).toBe(0);
    expect(doneOf(outcome.events)).toEqual([expect.objectContaining({ status: 'completed' })]);
    expect(notesOf(outcome.events).map((note) => [note.step, note.text])).toEqual([
      [
        4,
        'loop stopped early, in iteration 5 of 10 (break, return, or an exception the program caught)',
      ],
    ]);
  });

  it('failed, with the error, when the body throws at the top level of a module', async () => {
    const outcome = await runLoopScript(`
const loop = track(10, { progress: false, runOptions: ${RUN_OPTIONS} });
for (const step of loop) {
  loop.logMetric('train/loss', step);
  if (step === 2) throw new Error('loss is NaN');
}
`);
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toContain('loss is NaN');
    expect(doneOf(outcome.events)).toEqual([
      expect.objectContaining({
        status: 'failed',
        error: expect.objectContaining({ message: 'loss is NaN' }),
      }),
    ]);
    expect(notesOf(outcome.events)).toEqual([]);
    expect(stepsOf(outcome.events, 'train/loss')).toEqual([0, 1, 2]);
  });

  it('failed when the body throws in a callback (an uncaught exception)', async () => {
    const outcome = await runLoopScript(`
setTimeout(() => {
  for (const step of track(10, { progress: false, runOptions: ${RUN_OPTIONS} })) {
    if (step === 1) throw new Error('shape mismatch');
  }
}, 1);
`);
    expect(outcome.code).toBe(1);
    expect(doneOf(outcome.events)).toEqual([
      expect.objectContaining({
        status: 'failed',
        error: expect.objectContaining({ message: 'shape mismatch' }),
      }),
    ]);
  });

  it('failed when an async main() rejects out of for await over an async source', async () => {
    const outcome = await runLoopScript(`
async function* batches() {
  try {
    for (let index = 0; ; index++) { await new Promise((resolve) => setTimeout(resolve, 2)); yield index; }
  } finally {
    await new Promise((resolve) => setTimeout(resolve, 20)); // closing takes a while
  }
}
async function main() {
  const loop = track(batches(), { progress: false, runOptions: ${RUN_OPTIONS} });
  for await (const index of loop) if (index === 3) throw new Error('GPU fell off the bus');
}
main();
`);
    expect(outcome.code).toBe(1);
    expect(doneOf(outcome.events)).toEqual([
      expect.objectContaining({
        status: 'failed',
        error: expect.objectContaining({ message: 'GPU fell off the bus' }),
      }),
    ]);
  });

  it('failed when main().catch() reports the error and sets process.exitCode', async () => {
    const outcome = await runLoopScript(`
async function main() {
  for (const step of track(10, { progress: false, runOptions: ${RUN_OPTIONS} })) {
    if (step === 2) throw new Error('bad batch');
  }
}
main().catch((error) => { console.error(error.message); process.exitCode = 1; });
`);
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toContain('bad batch');
    expect(doneOf(outcome.events)).toEqual([expect.objectContaining({ status: 'failed' })]);
  });

  it('trackEach(): failed with the error when the body throws; completed when it returns false', async () => {
    const failing = await runLoopScript(`
await trackEach(5, (step, loop) => {
  loop.logMetric('train/loss', step);
  if (step === 1) throw new Error('diverged');
}, { progress: false, runOptions: ${RUN_OPTIONS} });
`);
    expect(failing.code).toBe(1);
    expect(doneOf(failing.events)).toEqual([
      expect.objectContaining({
        status: 'failed',
        error: expect.objectContaining({ message: 'diverged' }),
      }),
    ]);

    const stopping = await runLoopScript(`
const report = await trackEach(5, (step) => step < 2, { progress: false, runOptions: ${RUN_OPTIONS} });
console.log(report.ok);
`);
    expect(stopping.code, stopping.stderr).toBe(0);
    expect(stopping.stdout).toBe('true\n');
    expect(doneOf(stopping.events)).toEqual([expect.objectContaining({ status: 'completed' })]);
    expect(notesOf(stopping.events)).toHaveLength(1);
  });
});

describe('the progress says how the loop ended, in a real process', () => {
  /** The last progress line a piped (not a TTY) stderr got. */
  const lastLine = (stderr: string) =>
    stderr
      .split('\n')
      .filter((line) => / \| /.test(line))
      .at(-1);

  it('an uncaught throw in the body: "(failed)" on a terminal, not "(stopped early)"', async () => {
    const outcome = await runLoopScript(
      `
const loop = track(10, { description: 'train', runOptions: ${RUN_OPTIONS} });
for (const step of loop) {
  if (step === 2) throw new Error('loss is NaN');
}
`,
      { terminal: true },
    );
    expect(outcome.code).toBe(1);
    const output = outcome.stdout;
    // The bar's last line says failed, and the error is printed on lines of its own after it.
    expect(output).toMatch(
      /train +30%\|[█░]{20}\| 3\/10 \[00:00, [\d.?]+ (it\/s|s\/it)\] \(failed\)\u001b\[0K\r?\n/,
    );
    expect(output).not.toContain('(stopped early)');
    expect(output).toMatch(
      /\(failed\)\u001b\[0K\r?\n(Uncaught exception|Unhandled promise rejection): Error: loss is NaN/,
    );
    expect(doneOf(outcome.events)).toEqual([expect.objectContaining({ status: 'failed' })]);
  });

  it('an uncaught throw, piped: the last line ends in "failed"', async () => {
    const outcome = await runLoopScript(`
for (const step of track(10, { runOptions: ${RUN_OPTIONS} })) {
  if (step === 2) throw new Error('loss is NaN');
}
`);
    expect(outcome.code).toBe(1);
    expect(lastLine(outcome.stderr)).toMatch(/^3\/10 \(30%\) \| .* \| failed$/);
  });

  it('main().catch() setting process.exitCode, and a rejection out of for await: "failed"', async () => {
    const caught = await runLoopScript(`
async function main() {
  for (const step of track(10, { runOptions: ${RUN_OPTIONS} })) {
    if (step === 2) throw new Error('bad batch');
  }
}
main().catch((error) => { console.error(error.message); process.exitCode = 1; });
`);
    expect(lastLine(caught.stderr)).toMatch(/ \| failed$/);
    const rejected = await runLoopScript(`
async function* batches() {
  try {
    for (let index = 0; ; index++) { await new Promise((resolve) => setTimeout(resolve, 2)); yield index; }
  } finally {
    await new Promise((resolve) => setTimeout(resolve, 20)); // closing takes a while
  }
}
async function main() {
  for await (const index of track(batches(), { runOptions: ${RUN_OPTIONS} })) {
    if (index === 3) throw new Error('GPU fell off the bus');
  }
}
main();
`);
    expect(rejected.code).toBe(1);
    expect(lastLine(rejected.stderr)).toMatch(/^4 it \| .* \| failed$/);
  });

  it('break: "stopped early", and the run completed', async () => {
    const outcome = await runLoopScript(`
for (const step of track(10, { runOptions: ${RUN_OPTIONS} })) if (step === 4) break;
`);
    expect(outcome.code).toBe(0);
    expect(lastLine(outcome.stderr)).toMatch(/^5\/10 \(50%\) \| .* \| stopped early$/);
    expect(doneOf(outcome.events)).toEqual([expect.objectContaining({ status: 'completed' })]);
  });
});
