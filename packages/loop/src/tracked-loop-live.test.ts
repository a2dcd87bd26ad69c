/**
 * A custom training loop in a real process, `for await (const step of track(...))`, whose body is
 * pure computation and `await Promise.resolve()` (microtasks only, as tfjs on the cpu backend):
 * its HTTP sink delivers batches to a server while the loop runs, and Ctrl-C ends it at once,
 * with the run `interrupted`. Without track(), the same loop starves the network sink (the control).
 */
import type { DoneEvent, RunEvent } from '@livestep/core';
import { type FakeLivestepServer, startFakeLivestepServer } from '@livestep/test-support';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertLoopBuilt, runLoopScript } from './test-support/loop-script.js';

/** How long the scenario's loop runs. */
const LOOP_MS = 3_000;
/** The control needs less: it only has to show that nothing arrives while it runs. */
const CONTROL_LOOP_MS = 1_500;

/**
 * The scenario: `setup` defines `loop`, the iterable (with `sinks`, the JSONL journal and an HTTP
 * sink to LIVESTEP_URL); `log` records a point; the loop is left after `loopMs`. Each step is
 * ~2 ms of CPU, then a settled promise: nothing but microtasks between two steps. It prints its
 * start and end times (epoch ms), and `ready` once it has run for half a second.
 */
function scenario(loopMs: number, setup: string, log: string): string {
  return `
const sinks = [journal, createHttpSink({ url: process.env.LIVESTEP_URL })];
${setup}
const started = Date.now();
console.log(JSON.stringify({ started }));
let ready = false;
for await (const step of loop) {
  const until = performance.now() + 2;
  let x = 0;
  while (performance.now() < until) x += Math.sqrt(step + x);
  await Promise.resolve();
  ${log}
  if (!ready && Date.now() - started > 500) { ready = true; console.log('ready'); }
  if (Date.now() - started > ${loopMs}) break;
}
console.log(JSON.stringify({ ended: Date.now() }));
`;
}

const TRACKED = scenario(
  LOOP_MS,
  `const loop = track(1_000_000_000, { progress: false, runOptions: { experiment: 'live', sinks, collectGit: false } });`,
  `loop.logMetric('train/loss', 1 / (step + 1));`,
);

function timesFrom(stdout: string): { started: number; ended?: number } {
  const lines = stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line));
  return Object.assign({}, ...lines);
}

const metricsIn = (events: RunEvent[]) => events.filter((event) => event.kind === 'metric');

let receiver: FakeLivestepServer;
beforeAll(assertLoopBuilt);
afterEach(async () => {
  await receiver?.stop();
});

describe('for await over track() in a loop on microtasks alone, in a real process', () => {
  it('delivers batches to the server while the loop runs, every second', async () => {
    receiver = await startFakeLivestepServer();
    const outcome = await runLoopScript(TRACKED, { env: { LIVESTEP_URL: receiver.url } });
    expect(outcome.code, outcome.stderr).toBe(0);
    const { started, ended } = timesFrom(outcome.stdout);
    expect(ended! - started).toBeGreaterThanOrEqual(LOOP_MS);
    // Each second of the loop saw batches of points arrive at the server.
    for (let second = 0; second < LOOP_MS / 1_000; second++) {
      const from = started + second * 1_000;
      const arrived = receiver
        .acceptedBatches()
        .filter((batch) => batch.at >= from && batch.at < from + 1_000 && batch.at < ended!);
      expect(
        arrived.flatMap((batch) => metricsIn(batch.events)).length,
        `second ${second}`,
      ).toBeGreaterThan(0);
    }
    const done = receiver
      .acceptedBatches()
      .flatMap((batch) => batch.events)
      .filter((event): event is DoneEvent => event.kind === 'done');
    expect(done).toEqual([expect.objectContaining({ status: 'completed' })]);
    // Everything the loop logged reached the server, as it reached the JSONL journal.
    const delivered = receiver.acceptedBatches().flatMap((batch) => metricsIn(batch.events));
    expect(delivered.length).toBe(metricsIn(outcome.events).length);
  });

  it('the control: without track(), the same loop sends nothing until it ends', async () => {
    receiver = await startFakeLivestepServer();
    const outcome = await runLoopScript(
      scenario(
        CONTROL_LOOP_MS,
        `const run = startRun({ experiment: 'live', sinks, collectGit: false });
const loop = Array.from({ length: 1_000_000 }, (_, index) => index);`,
        `run.logMetric('train/loss', 1 / (step + 1), { step });`,
      ),
      { env: { LIVESTEP_URL: receiver.url } },
    );
    expect(outcome.code, outcome.stderr).toBe(0);
    const { ended } = timesFrom(outcome.stdout);
    expect(receiver.acceptedBatches().filter((batch) => batch.at < ended!)).toEqual([]);
    // The points were not lost: they went out once the loop was over (beforeExit ended the run).
    expect(
      receiver.acceptedBatches().flatMap((batch) => metricsIn(batch.events)).length,
    ).toBeGreaterThan(0);
  });

  it('SIGINT in the middle of the loop ends it within 1 s, with the run interrupted', async () => {
    receiver = await startFakeLivestepServer();
    const outcome = await runLoopScript(TRACKED, {
      env: { LIVESTEP_URL: receiver.url },
      signal: { signal: 'SIGINT', whenStdoutHas: 'ready' },
    });
    expect(outcome.signal, outcome.stderr).toBe('SIGINT');
    expect(outcome.exitMsAfterSignal).toBeLessThan(1_000);
    const { started } = timesFrom(outcome.stdout);
    const events = receiver.acceptedBatches().flatMap((batch) => batch.events);
    const done = events.filter((event): event is DoneEvent => event.kind === 'done');
    expect(done).toEqual([expect.objectContaining({ status: 'interrupted' })]);
    // Mid-loop: well before it would have ended by itself.
    expect(done[0]!.ts - started).toBeLessThan(LOOP_MS);
    expect(metricsIn(events).length).toBeGreaterThan(0);
  });
});
