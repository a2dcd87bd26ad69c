/**
 * A fit whose error nobody catches, in real child processes: each scenario is a small script that
 * imports the built packages (as a user's program does), trains on a backend and lets the error
 * reach the top. On the wasm backend Emscripten's runtime has added its own rethrowing
 * 'uncaughtException' listener, which must not stop livestep's exit hooks from recording the run.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from './test-support/backends.js';

const packageFolder = resolve(import.meta.dirname, '..');
const builtTfjs = join(packageFolder, 'dist', 'index.js');
const require = createRequire(join(packageFolder, 'package.json'));
const builtCore = join(dirname(require.resolve('@livestep/core/package.json')), 'dist', 'index.js');
/** Generous bound for a child that must exit by itself; a hang fails the test instead of timing it out. */
const CHILD_DEADLINE_MS = 20_000;

interface Outcome {
  code: number | null;
  stderr: string;
  events: Array<Record<string, unknown>>;
  folder: string;
}

/** Runs `body` after tfjs is set up on `backend`, with `sinks` (a directory and a JSONL sink). */
function runFit(backend: string, body: string): Promise<Outcome> {
  const folder = mkdtempSync(join(tmpdir(), 'livestep-tfjs-crash-'));
  const script = join(folder, 'scenario.mjs');
  const url = (path: string) => JSON.stringify(pathToFileURL(path).href);
  writeFileSync(
    script,
    `import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { livestepCallback } from ${url(builtTfjs)};
import { createDirectorySink, createJsonlSink, startRun } from ${url(builtCore)};
const require = createRequire(${JSON.stringify(join(packageFolder, 'package.json'))});
const tf = require('@tensorflow/tfjs');
const wasm = require('@tensorflow/tfjs-backend-wasm');
wasm.setWasmPaths(dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + '/');
await tf.setBackend(${JSON.stringify(backend)});
await tf.ready();
const sinks = () => [
  createDirectorySink({ directory: ${JSON.stringify(join(folder, 'livestep'))}, dvcYaml: false }),
  createJsonlSink({ path: ${JSON.stringify(join(folder, 'run.jsonl'))} }),
];
const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [2] })] });
model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
const x = tf.ones([8, 2]);
const y = tf.ones([8, 1]);
const diskFull = new tf.CustomCallback({
  onEpochEnd: (epoch) => { if (epoch === 1) throw new Error('checkpoint disk is full'); },
});
${body}
`,
  );
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const killer = setTimeout(() => child.kill('SIGKILL'), CHILD_DEADLINE_MS);
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(killer);
      const journal = join(folder, 'run.jsonl');
      const events = existsSync(journal)
        ? readFileSync(journal, 'utf8')
            .split('\n')
            .filter((line) => line.trim() !== '')
            .map((line) => JSON.parse(line) as Record<string, unknown>)
            .filter((record) => 'kind' in record)
        : [];
      resolvePromise({ code, stderr, events, folder });
    });
  });
}

const doneOf = (outcome: Outcome) => outcome.events.filter((event) => event.kind === 'done');
const fileIn = (outcome: Outcome, path: string) => join(outcome.folder, 'livestep', path);

beforeAll(() => {
  for (const built of [builtTfjs, builtCore]) {
    if (!existsSync(built))
      throw new Error(`build @livestep/tfjs and @livestep/core first: ${built} is missing`);
  }
});

describe.each(BACKENDS)(
  'a fit that throws uncaught on the %s backend (real child processes)',
  (backend) => {
    it('ends the given run as failed with the error, writes its files, and exits 1 printing the error', async () => {
      const outcome = await runFit(
        backend,
        `const run = startRun({ sinks: sinks(), collectGit: false });
await model.fit(x, y, { epochs: 5, verbose: 0, callbacks: [livestepCallback({ run }), diskFull] });`,
      );
      expect(outcome.code).toBe(1);
      expect(outcome.stderr).toContain('checkpoint disk is full');
      expect(doneOf(outcome)).toEqual([
        expect.objectContaining({
          status: 'failed',
          error: expect.objectContaining({ message: 'checkpoint disk is full' }),
        }),
      ]);
      expect(readFileSync(fileIn(outcome, 'params.yaml'), 'utf8')).toContain(`backend: ${backend}`);
      expect(JSON.parse(readFileSync(fileIn(outcome, 'metrics.json'), 'utf8'))).toMatchObject({
        step: 1,
        train: { loss: expect.any(Number) },
      });
      expect(existsSync(fileIn(outcome, 'plots/metrics/train/loss.tsv'))).toBe(true);
    });

    it('ends its own run as failed, writes its files, and exits 1 printing the error', async () => {
      const outcome = await runFit(
        backend,
        `await model.fit(x, y, {
  epochs: 5,
  verbose: 0,
  callbacks: [livestepCallback({ runOptions: { sinks: sinks(), collectGit: false } }), diskFull],
});`,
      );
      expect(outcome.code).toBe(1);
      expect(outcome.stderr).toContain('checkpoint disk is full');
      expect(doneOf(outcome)).toEqual([
        expect.objectContaining({
          status: 'failed',
          error: expect.objectContaining({ message: expect.stringContaining('threw in epoch 1') }),
        }),
      ]);
      expect(existsSync(fileIn(outcome, 'params.yaml'))).toBe(true);
      expect(existsSync(fileIn(outcome, 'metrics.json'))).toBe(true);
    });
  },
);
