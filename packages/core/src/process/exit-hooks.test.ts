/**
 * Exit hooks, tested with real child processes: each scenario is a small script that imports the
 * built package, records into a JSONL file, and ends in its own way.
 */
import { join } from 'node:path';
import {
  assertBuilt,
  builtEntry,
  DEFAULT_SCRIPT_TIMEOUT_MS,
  importUrl,
  type NodeScriptOutcome,
  readJournal,
  runNodeScript,
  writeScript,
} from '@livestep/test-support';
import { beforeAll, describe, expect, it } from 'vitest';

const builtPackage = builtEntry('@livestep/core', import.meta.url);

interface Outcome extends NodeScriptOutcome {
  events: Array<Record<string, unknown>>;
  /** From the signal sent on "ready" (or the child's start) to its exit. */
  millisecondsToExit: number;
}

async function runScenario(
  body: string,
  options: { signalOnReady?: NodeJS.Signals } = {},
): Promise<Outcome> {
  const { folder, path } = writeScript(
    (folder) => `import { startRun, createJsonlSink } from ${importUrl(builtPackage)};
const journal = createJsonlSink({ path: ${JSON.stringify(join(folder, 'run.jsonl'))} });
${body}
`,
    { prefix: 'exit' },
  );
  const outcome = await runNodeScript(path, {
    signal: options.signalOnReady && { signal: options.signalOnReady, whenStdoutHas: 'ready' },
  });
  return {
    ...outcome,
    events: readJournal(join(folder, 'run.jsonl')) as unknown as Array<Record<string, unknown>>,
    millisecondsToExit: outcome.exitMsAfterSignal ?? outcome.durationMs,
  };
}

const doneOf = (outcome: Outcome) => outcome.events.filter((event) => event.kind === 'done');

beforeAll(() => assertBuilt(builtPackage));

describe('exit hooks (real child processes)', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)(
    'ends the run as interrupted on %s, flushes, and dies by the signal',
    async (signal) => {
      const outcome = await runScenario(
        `const run = startRun({ sinks: [journal], collectGit: false });
let step = 0;
setInterval(() => { run.logMetric('loss', 1 / ++step); run.nextStep(); }, 2);
await run.flush();
console.log('ready');`,
        { signalOnReady: signal },
      );
      expect(outcome.signal).toBe(signal);
      const done = doneOf(outcome);
      expect(done).toHaveLength(1);
      expect(done[0]).toMatchObject({ status: 'interrupted' });
      expect(outcome.events.at(-1)!.kind).toBe('done');
      expect(outcome.events.filter((event) => event.kind === 'metric').length).toBeGreaterThan(0);
      expect(outcome.millisecondsToExit).toBeLessThan(DEFAULT_SCRIPT_TIMEOUT_MS / 2);
    },
  );

  it('ends the run as failed on an uncaught exception, then exits 1 printing the error', async () => {
    const outcome = await runScenario(
      `const run = startRun({ sinks: [journal], collectGit: false });
run.logMetric('loss', 0.5);
setTimeout(() => { throw new Error('the model diverged'); }, 10);`,
    );
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toContain('the model diverged');
    expect(doneOf(outcome)).toEqual([
      expect.objectContaining({
        status: 'failed',
        error: expect.objectContaining({ message: 'the model diverged' }),
      }),
    ]);
  });

  it('ends the run as failed on an unhandled rejection', async () => {
    const outcome = await runScenario(
      `const run = startRun({ sinks: [journal], collectGit: false });
run.logMetric('loss', 0.5);
Promise.reject(new TypeError('bad batch'));`,
    );
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toContain('bad batch');
    expect(doneOf(outcome)[0]).toMatchObject({
      status: 'failed',
      error: { name: 'TypeError', message: 'bad batch' },
    });
  });

  /** The listeners Emscripten's runtime adds in Node (tfjs-backend-wasm 4.22), as it writes them. */
  const EMSCRIPTEN_LISTENERS = `class ExitStatus {}
const rethrowUncaught = function (ex) { if (!(ex instanceof ExitStatus)) {
    throw ex;
} };
const rethrowRejection = function (reason) { throw reason; };`;

  it.each([
    [
      'before',
      'an uncaught exception',
      `setTimeout(() => { throw new Error('the model diverged'); }, 10);`,
    ],
    [
      'after',
      'an uncaught exception',
      `setTimeout(() => { throw new Error('the model diverged'); }, 10);`,
    ],
    ['before', 'an unhandled rejection', `Promise.reject(new Error('the model diverged'));`],
  ])(
    'records a crash as failed and exits 1 when a wasm runtime added its rethrowing listeners %s the run started (%s)',
    async (when, _kind, crash) => {
      const addListeners = `process.on('uncaughtException', rethrowUncaught);
process.on('unhandledRejection', rethrowRejection);`;
      const outcome = await runScenario(
        `${EMSCRIPTEN_LISTENERS}
${when === 'before' ? addListeners : ''}
const run = startRun({ sinks: [journal], collectGit: false });
${when === 'after' ? addListeners : ''}
run.logMetric('loss', 0.5);
await Promise.resolve();
${crash}`,
      );
      expect(outcome.code).toBe(1);
      expect(outcome.stderr).toContain('the model diverged');
      expect(doneOf(outcome)).toEqual([
        expect.objectContaining({
          status: 'failed',
          error: expect.objectContaining({ message: 'the model diverged' }),
        }),
      ]);
    },
  );

  it('puts a rethrowing listener back as it was once no run is open', async () => {
    const outcome = await runScenario(
      `${EMSCRIPTEN_LISTENERS}
const first = () => {};
process.on('uncaughtException', first);
process.on('uncaughtException', rethrowUncaught);
const run = startRun({ sinks: [journal], collectGit: false });
const during = process.rawListeners('uncaughtException');
console.log('during', during.length, during[1] === rethrowUncaught, process.listeners('uncaughtException')[1] === rethrowUncaught);
await run.end();
const after = process.rawListeners('uncaughtException');
console.log('after', after.length, after[0] === first, after[1] === rethrowUncaught);
process.removeListener('uncaughtException', rethrowUncaught);
console.log('removed', process.listenerCount('uncaughtException'));`,
    );
    expect(outcome.code).toBe(0);
    // While open: ours added, the rethrowing one wrapped in place (listeners() still shows it).
    expect(outcome.stdout).toContain('during 3 false true');
    expect(outcome.stdout).toContain('after 2 true true');
    expect(outcome.stdout).toContain('removed 1');
  });

  it("still leaves an uncaught error to the program's own handler beside a rethrowing listener", async () => {
    const outcome = await runScenario(
      `${EMSCRIPTEN_LISTENERS}
process.on('uncaughtException', rethrowUncaught);
process.on('uncaughtException', (error) => { console.log('handled', error.message); setTimeout(() => process.exit(4), 50); });
const run = startRun({ sinks: [journal], collectGit: false });
run.logMetric('loss', 0.5);
setTimeout(() => { throw new Error('the model diverged'); }, 10);`,
    );
    expect(outcome.stdout).toContain('handled the model diverged');
    expect(outcome.code).toBe(4);
    expect(doneOf(outcome)).toEqual([expect.objectContaining({ status: 'failed' })]);
  });

  it('ends a run the script forgot to end as completed when the event loop runs dry', async () => {
    const outcome = await runScenario(
      `const run = startRun({ sinks: [journal], collectGit: false });
for (let step = 0; step < 100; step++) { run.logMetric('loss', 1 / (step + 1)); run.nextStep(); }`,
    );
    expect(outcome.code).toBe(0);
    expect(outcome.events.filter((event) => event.kind === 'metric')).toHaveLength(100);
    expect(doneOf(outcome)).toEqual([expect.objectContaining({ status: 'completed' })]);
  });

  it('exits at once when nothing is pending, even with a long flush interval', async () => {
    const outcome = await runScenario(
      `const run = startRun({ sinks: [journal], collectGit: false, flushIntervalMs: 600000 });
run.logMetric('loss', 1);
await run.end();
console.log('ready', process.listenerCount('SIGINT'), process.listenerCount('beforeExit'));`,
    );
    expect(outcome.code).toBe(0);
    // Our listeners are gone once the run ended, and no timer keeps the process alive.
    expect(outcome.stdout.trim()).toBe('ready 0 0');
    expect(outcome.millisecondsToExit).toBeLessThan(5_000);
  });

  it('records done synchronously when the script calls process.exit with a run open', async () => {
    const outcome = await runScenario(
      `const run = startRun({ sinks: [journal], collectGit: false, flushIntervalMs: 600000 });
for (let step = 0; step < 10; step++) run.logMetric('loss', step);
const latencies = [0.5, 0.25];
run.beforeFlush(() => { for (const value of latencies.splice(0)) run.logMetric('latency', value); });
process.exit(3);`,
    );
    expect(outcome.code).toBe(3);
    // What an adapter still buffered is logged before done, even on this synchronous path.
    expect(outcome.events.filter((event) => event.kind === 'metric')).toHaveLength(12);
    expect(outcome.events.at(-2)).toMatchObject({ kind: 'metric', name: 'latency', value: 0.25 });
    expect(doneOf(outcome)).toEqual([expect.objectContaining({ status: 'failed' })]);
  });

  it('gives up on a stuck sink after the exit deadline instead of hanging', async () => {
    const outcome = await runScenario(
      `const stuck = { name: 'stuck', send: () => new Promise(() => {}) };
const run = startRun({ sinks: [journal, stuck], collectGit: false, exitTimeoutMs: 300 });
run.logMetric('loss', 1);
setInterval(() => {}, 1000);
await run.flush({ timeoutMs: 50 });
console.log('ready');`,
      { signalOnReady: 'SIGTERM' },
    );
    expect(outcome.signal).toBe('SIGTERM');
    expect(doneOf(outcome)).toEqual([expect.objectContaining({ status: 'interrupted' })]);
    expect(outcome.millisecondsToExit).toBeLessThan(5_000);
  });

  it("leaves the decision to the program's own signal handler", async () => {
    const outcome = await runScenario(
      `process.on('SIGINT', () => { console.log('saving checkpoint'); setTimeout(() => process.exit(0), 50); });
const run = startRun({ sinks: [journal], collectGit: false });
run.logMetric('loss', 1);
setInterval(() => {}, 1000);
await run.flush();
console.log('ready');`,
      { signalOnReady: 'SIGINT' },
    );
    expect(outcome.code).toBe(0);
    expect(outcome.stdout).toContain('saving checkpoint');
    expect(doneOf(outcome)).toEqual([expect.objectContaining({ status: 'interrupted' })]);
  });
});
