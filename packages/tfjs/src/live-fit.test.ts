/**
 * A fit as a user runs it, in a real child process, watched from outside while it trains: the
 * files must grow every second, and Ctrl-C must stop the fit at once with the run interrupted.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { parseJsonl } from '@livestep/core/protocol';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, type BackendName } from './test-support/backends.js';

const require = createRequire(import.meta.url);
const packageFolder = resolve(import.meta.dirname, '..');
const builtPackage = join(packageFolder, 'dist', 'index.js');
const builtCore = join(packageFolder, 'node_modules', '@livestep', 'core', 'dist', 'index.js');
/** A child that outlives its test is killed: every scenario here is bounded. */
const CHILD_DEADLINE_MS = 30_000;

interface Child {
  process: ChildProcess;
  folder: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  output: () => string;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

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
  const folder = mkdtempSync(join(tmpdir(), 'livestep-live-fit-'));
  const script = join(folder, 'fit.mjs');
  const tfjs = pathToFileURL(require.resolve('@tensorflow/tfjs')).href;
  const wasm = require.resolve('@tensorflow/tfjs-backend-wasm');
  writeFileSync(
    script,
    `import { writeFileSync } from 'node:fs';
import * as tf from ${JSON.stringify(tfjs)};
import { setWasmPaths } from ${JSON.stringify(pathToFileURL(wasm).href)};
import { livestepCallback } from ${JSON.stringify(pathToFileURL(builtPackage).href)};
import { createDefaultSinks, createJsonlSink, readEnvironmentConfig, startRun, yieldToEventLoop } from ${JSON.stringify(pathToFileURL(builtCore).href)};
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
  );
  const child = spawn(process.execPath, [script], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...environment },
  });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr!.on('data', (chunk) => {
    output += chunk;
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), CHILD_DEADLINE_MS);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>(
    (resolvePromise) =>
      child.on('exit', (code, signal) => {
        clearTimeout(killer);
        resolvePromise({ code, signal, at: performance.now() });
      }),
  );
  return { process: child, folder, exited, output: () => output };
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

/** A livestep receiver on 127.0.0.1 that answers 200 and counts the metric events it got. */
async function startCountingReceiver(): Promise<{
  url: string;
  metrics: () => number;
  close: () => Promise<void>;
}> {
  let metrics = 0;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      let body = Buffer.concat(chunks);
      if (request.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const batch = JSON.parse(body.toString('utf8')) as { events: Array<{ kind: string }> };
      metrics += batch.events.filter((event) => event.kind === 'metric').length;
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise<void>((resolvePromise) => server.listen(0, '127.0.0.1', resolvePromise));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    metrics: () => metrics,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolvePromise) => server.close(resolvePromise));
    },
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

beforeAll(() => {
  for (const path of [builtPackage, builtCore]) {
    if (!existsSync(path)) throw new Error(`build the packages first: ${path} is missing`);
  }
});

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
    expect(child.process.exitCode).toBeNull();
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
    child.process.kill('SIGKILL');
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
      const signalledAt = performance.now();
      child.process.kill(signal);
      const exit = await child.exited;
      expect([exit.signal, exit.code]).toContainEqual(exit.signal === null ? exitCode : signal);
      expect(exit.at - signalledAt).toBeLessThan(1_000);
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
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((resolvePromise) => server?.close(resolvePromise) ?? resolvePromise(null));
    server = undefined;
  });

  it('exits at once while the first is still delivering to a server that never answers', async () => {
    // A receiver that takes every request and never answers: delivery waits for the deadline.
    server = createServer(() => {});
    await new Promise<void>((resolvePromise) => server!.listen(0, '127.0.0.1', resolvePromise));
    const { port } = server.address() as AddressInfo;
    const child = startFit('cpu', {
      epochs: 200,
      environment: { LIVESTEP_URL: `http://127.0.0.1:${port}` },
    });
    await waitFor(() => progressOf(child) >= 1, 15_000, 'two epochs');
    child.process.kill('SIGINT');
    await sleep(300);
    // Still waiting for the server (the exit deadline is 5 s), but the run is already interrupted.
    expect(child.process.exitCode).toBeNull();
    const [record] = parseJsonl(readFileSync(journalOf(child), 'utf8'));
    expect(record!.events.at(-1)).toEqual(
      expect.objectContaining({ kind: 'done', status: 'interrupted' }),
    );
    const secondAt = performance.now();
    child.process.kill('SIGINT');
    const exit = await child.exited;
    expect(exit.signal).toBe('SIGINT');
    expect(exit.at - secondAt).toBeLessThan(300);
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
    expect(child.process.exitCode).toBeNull();
    child.process.kill('SIGKILL');
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
