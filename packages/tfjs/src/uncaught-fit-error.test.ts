/**
 * A fit whose error nobody catches, in real child processes: each scenario is a small script that
 * imports the built packages (as a user's program does), trains on a backend and lets the error
 * reach the top. On the wasm backend Emscripten's runtime has added its own rethrowing
 * 'uncaughtException' listener, which must not stop livestep's exit hooks from recording the run.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  assertBuilt,
  builtEntry,
  importUrl,
  readJournal,
  runNodeScript,
  writeScript,
} from '@livestep/test-support';
import { beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from './test-support/backends.js';

const packageFolder = join(import.meta.dirname, '..');
const builtTfjs = builtEntry('@livestep/tfjs', import.meta.url);
const builtCore = builtEntry('@livestep/core', import.meta.url);

interface Outcome {
  code: number | null;
  stderr: string;
  events: Array<Record<string, unknown>>;
  folder: string;
}

/** Runs `body` after tfjs is set up on `backend`, with `sinks` (a directory and a JSONL sink). */
async function runFit(backend: string, body: string): Promise<Outcome> {
  const { folder, path } = writeScript(
    (folder) => `import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { livestepCallback } from ${importUrl(builtTfjs)};
import { createDirectorySink, createJsonlSink, startRun } from ${importUrl(builtCore)};
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
    { prefix: 'tfjs-crash' },
  );
  const { code, stderr } = await runNodeScript(path);
  const events = readJournal(join(folder, 'run.jsonl')) as unknown as Array<
    Record<string, unknown>
  >;
  return { code, stderr, events, folder };
}

const doneOf = (outcome: Outcome) => outcome.events.filter((event) => event.kind === 'done');
const fileIn = (outcome: Outcome, path: string) => join(outcome.folder, 'livestep', path);

beforeAll(() => assertBuilt(builtTfjs, builtCore));

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
