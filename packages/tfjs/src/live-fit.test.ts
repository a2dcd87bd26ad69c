/**
 * A fit as a user runs it, in a real child process, watched from outside while it trains: the
 * files must grow every second, and Ctrl-C must stop the fit at once with the run interrupted.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseJsonl } from '@livestep/core/protocol';
import {
  assertBuilt,
  builtEntry,
  type FakeLivestepServer,
  importUrl,
  type NodeScript,
  startFakeLivestepServer,
  startNodeScript,
  writeScript,
} from '@livestep/test-support';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, type BackendName } from './test-support/backends.js';

const require = createRequire(import.meta.url);
const builtPackage = builtEntry('@livestep/tfjs', import.meta.url);
const builtCore = builtEntry('@livestep/core', import.meta.url);
/** Core's entry for sink and adapter authors (the default sinks, the environment's config). */
const builtSinkKit = join(dirname(builtCore), 'sink-kit.js');
/** A child that outlives its test is killed: every scenario here is bounded. */
const CHILD_DEADLINE_MS = 30_000;

/** A script started (killed, if still running, when its test ends) and its folder. */
type Child = NodeScript & { folder: string };

/**
 * A script on `backend` with tfjs, the built callback and core imported, `folder` (a fresh temp
 * folder), `sinks` (the default sinks into `folder/livestep`, plus a JSONL record in
 * `folder/run.jsonl`), a small classifier `model` with data `x`, `y`, and `Progress`, a
 * tf.Callback that writes each finished epoch to `folder/progress` (synchronously; a tf.Callback
 * does not make tfjs yield). `body` does the training.
 */
function startScript(
  backend: BackendName,
  body: string,
  environment: NodeJS.ProcessEnv = {},
): Child {
  const tfjs = pathToFileURL(require.resolve('@tensorflow/tfjs')).href;
  const wasm = require.resolve('@tensorflow/tfjs-backend-wasm');
  const { folder, path } = writeScript(
    (folder) => `import { writeFileSync } from 'node:fs';
import * as tf from ${JSON.stringify(tfjs)};
import { setWasmPaths } from ${JSON.stringify(pathToFileURL(wasm).href)};
import { livestepCallback } from ${importUrl(builtPackage)};
import { createJsonlSink, startRun, yieldToEventLoop } from ${importUrl(builtCore)};
import { createDefaultSinks, readEnvironmentConfig } from ${importUrl(builtSinkKit)};
const folder = ${JSON.stringify(folder)};
setWasmPaths(${JSON.stringify(`${dirname(wasm)}/`)});
await tf.setBackend(${JSON.stringify(backend)});
await tf.ready();
const x = tf.randomUniform([512, 8], 0, 1, 'float32', 1);
const y = tf.oneHot(tf.argMax(x.slice([0, 0], [512, 3]), 1), 3);
const model = tf.sequential({ layers: [
  tf.layers.dense({ units: 32, inputShape: [8], activation: 'relu' }),
  tf.layers.dense({ units: 3, activation: 'softmax' }),
] });
model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
class Progress extends tf.Callback {
  async onEpochEnd(epoch) { writeFileSync(folder + '/progress', String(epoch)); }
}
const sinks = createDefaultSinks({ ...readEnvironmentConfig(process.env), directory: folder + '/livestep' }, { environment: process.env, warn: () => {} });
sinks.push(createJsonlSink({ path: folder + '/run.jsonl' }));
process.stdout.write('training\\n');
${body}
`,
    { prefix: 'live-fit', file: 'fit.mjs' },
  );
  return { ...startNodeScript(path, { env: environment, timeoutMs: CHILD_DEADLINE_MS }), folder };
}

/** `model.fit` with `livestepCallback()` first and `Progress` after it. */
function startFit(
  backend: BackendName,
  options: { epochs: number; environment?: NodeJS.ProcessEnv },
): Child {
  return startScript(
    backend,
    `await model.fit(x, y, {
  epochs: ${options.epochs}, batchSize: 16, verbose: 0,
  callbacks: [livestepCallback({ runOptions: { experiment: 'live', name: 'fit', collectGit: false, sinks } }), new Progress()],
});
process.stdout.write('fit returned\\n');`,
    options.environment,
  );
}

/** A livestep server on 127.0.0.1, and how many metric events it has stored. */
async function startCountingReceiver() {
  const server = await startFakeLivestepServer();
  return {
    url: server.url,
    metrics: () => server.arrivals.filter((event) => event.kind === 'metric').length,
    close: () => server.stop(),
  };
}

const sleep = (ms: number) => new Promise((resolvePromise) => setTimeout(resolvePromise, ms));

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function lines(path: string): string[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').slice(0, -1);
}

const lossFile = (child: Child) =>
  join(child.folder, 'livestep', 'plots', 'metrics', 'train', 'loss.tsv');
const journalOf = (child: Child) => join(child.folder, 'run.jsonl');
const progressOf = (child: Child) => {
  const path = join(child.folder, 'progress');
  return existsSync(path) ? Number(readFileSync(path, 'utf8')) : -1;
};

beforeAll(() => assertBuilt(builtPackage, builtCore));

describe.each(BACKENDS)('a live fit on the %s backend (real child process)', (backend) => {
  it('writes the TSVs and the JSONL and posts to the server while it trains, more every second', async () => {
    const receiver = await startCountingReceiver();
    const child = startFit(backend, {
      epochs: 100_000,
      environment: { LIVESTEP_URL: receiver.url },
    });
    await waitFor(() => progressOf(child) >= 0, 15_000, 'the first epoch');
    const samples: Array<{
      epochs: number;
      tsvRows: number;
      journalLines: number;
      received: number;
    }> = [];
    for (let second = 0; second < 4; second++) {
      await sleep(1_000);
      samples.push({
        epochs: progressOf(child),
        tsvRows: lines(lossFile(child)).length,
        journalLines: lines(journalOf(child)).length,
        received: receiver.metrics(),
      });
    }
    await receiver.close();
    expect(child.child.exitCode).toBeNull();
    expect(child.output()).not.toContain('fit returned');
    for (let index = 1; index < samples.length; index++) {
      const [before, after] = [samples[index - 1]!, samples[index]!];
      expect(after.tsvRows, JSON.stringify(samples)).toBeGreaterThan(before.tsvRows);
      expect(after.journalLines, JSON.stringify(samples)).toBeGreaterThan(before.journalLines);
      expect(after.received, JSON.stringify(samples)).toBeGreaterThan(before.received);
      // Within about a second of training: no more than a few epochs behind the fit itself.
      expect(after.epochs - (after.tsvRows - 1), JSON.stringify(samples)).toBeLessThan(
        Math.max(3, (after.epochs - before.epochs) / 2),
      );
    }
    child.kill('SIGKILL');
  });

  it.each([
    ['Ctrl-C (SIGINT)', 'SIGINT', 130],
    ['SIGTERM', 'SIGTERM', 143],
  ] as const)(
    '%s after 1 s stops a 200-epoch fit within 1 s: the run is interrupted, every epoch before the signal kept',
    async (_, signal, exitCode) => {
      const child = startFit(backend, { epochs: 200 });
      await waitFor(() => child.output().includes('training'), 15_000, 'the fit to start');
      await waitFor(() => progressOf(child) >= 0, 15_000, 'the first epoch');
      await sleep(1_000);
      const epochsBeforeSignal = progressOf(child);
      child.kill(signal);
      const exit = await child.exited;
      expect([exit.signal, exit.code]).toContainEqual(exit.signal === null ? exitCode : signal);
      expect(exit.exitMsAfterSignal).toBeLessThan(1_000);
      expect(epochsBeforeSignal).toBeLessThan(190);

      const steps = lines(lossFile(child))
        .slice(1)
        .map((row) => Number(row.split('\t')[1]));
      expect(steps.length).toBeGreaterThan(epochsBeforeSignal);
      expect(steps).toEqual(steps.map((_, index) => index));
      const [record] = parseJsonl(readFileSync(journalOf(child), 'utf8'));
      const done = record!.events.filter((event) => event.kind === 'done');
      expect(done).toEqual([expect.objectContaining({ status: 'interrupted' })]);
      const summary = JSON.parse(
        readFileSync(join(child.folder, 'livestep', 'metrics.json'), 'utf8'),
      );
      expect(summary.step).toBe(steps.at(-1));
    },
  );
});

describe('a second Ctrl-C', () => {
  let server: FakeLivestepServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('exits at once while the first is still delivering to a server that never answers', async () => {
    // A receiver that takes every request and never answers: delivery waits for the deadline.
    server = await startFakeLivestepServer();
    server.delayNext(1_000, 60_000);
    const child = startFit('cpu', {
      epochs: 200,
      environment: { LIVESTEP_URL: server.url },
    });
    await waitFor(() => progressOf(child) >= 1, 15_000, 'two epochs');
    child.kill('SIGINT');
    await sleep(300);
    // Still waiting for the server (the exit deadline is 5 s), but the run is already interrupted.
    expect(child.child.exitCode).toBeNull();
    const [record] = parseJsonl(readFileSync(journalOf(child), 'utf8'));
    expect(record!.events.at(-1)).toEqual(
      expect.objectContaining({ kind: 'done', status: 'interrupted' }),
    );
    child.kill('SIGINT');
    const exit = await child.exited;
    expect(exit.signal).toBe('SIGINT');
    // From the second signal.
    expect(exit.exitMsAfterSignal).toBeLessThan(300);
  });
});

describe('a custom tfjs loop on `await loss.data()` (cpu, real child process)', () => {
  /** Gradient steps on the same model, each read back with `await loss.data()` (microtasks only). */
  const customLoop = (yieldEachStep: boolean) => `
const run = startRun({ experiment: 'live', name: 'custom', collectGit: false, sinks });
const optimizer = tf.train.adam(0.01);
for (let step = 0; step < 1e6; step++) {
  const loss = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x)), true);
  const [value] = await loss.data();
  loss.dispose();
  run.logMetric('train/loss', value);
  run.nextStep();
  writeFileSync(folder + '/progress', String(step));
  ${yieldEachStep ? 'await yieldToEventLoop();' : ''}
}
`;

  async function watch(child: Child, receiver?: { metrics: () => number }) {
    await waitFor(() => progressOf(child) >= 0, 15_000, 'the first step');
    const samples: Array<{
      steps: number;
      tsvRows: number;
      journalLines: number;
      received: number;
    }> = [];
    for (let second = 0; second < 3; second++) {
      await sleep(1_000);
      samples.push({
        steps: progressOf(child),
        tsvRows: lines(lossFile(child)).length,
        journalLines: lines(journalOf(child)).length,
        received: receiver?.metrics() ?? 0,
      });
    }
    expect(child.child.exitCode).toBeNull();
    child.kill('SIGKILL');
    return samples;
  }

  it('gets its points into the files every second without ever yielding', async () => {
    const child = startScript('cpu', customLoop(false));
    const samples = await watch(child);
    for (let index = 1; index < samples.length; index++) {
      expect(samples[index]!.tsvRows, JSON.stringify(samples)).toBeGreaterThan(
        samples[index - 1]!.tsvRows,
      );
      expect(samples[index]!.journalLines, JSON.stringify(samples)).toBeGreaterThan(
        samples[index - 1]!.journalLines,
      );
    }
  });

  it('streams to a server every second with `await yieldToEventLoop()` in the loop', async () => {
    const receiver = await startCountingReceiver();
    const child = startScript('cpu', customLoop(true), { LIVESTEP_URL: receiver.url });
    const samples = await watch(child, receiver);
    await receiver.close();
    for (let index = 1; index < samples.length; index++) {
      expect(samples[index]!.received, JSON.stringify(samples)).toBeGreaterThan(
        samples[index - 1]!.received,
      );
      expect(samples[index]!.tsvRows, JSON.stringify(samples)).toBeGreaterThan(
        samples[index - 1]!.tsvRows,
      );
    }
  });
});
