// examples/tfjs-fit run as a real process with only MLFLOW_TRACKING_URI (and a token) set,
// recording into a fake MLflow tracking server on 127.0.0.1 that checks every body against
// MLflow's documented messages and limits, and answers 503s and 429s on the way: the run must
// arrive complete (every metric point of the run folder once, with its step, the params, the
// tags, FINISHED), and the token must appear nowhere but in the Authorization header. A token
// MLflow refuses (401: MLflow tokens do not refresh) stops posting with a message naming
// MLFLOW_TRACKING_TOKEN, and training still finishes.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runNodeScript } from '@livestep/test-support';
import { type FakeMlflow, startFakeMlflow } from '@livestep/test-support/mlflow';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { filesUnder, runFolderMetrics } from './support/run-folder.js';

const MAIN_SCRIPT = fileURLToPath(new URL('../../examples/tfjs-fit/src/main.mjs', import.meta.url));
/** Looks like a real token, so a leak anywhere is found by a plain text search. */
const TOKEN = 'mlflow-e2e-SECRET-token-0123456789abcdef';
const EPOCHS = 6;
/** A few epochs of Iris take seconds, retries a few more; a process alive after this has hung. */
const EXIT_DEADLINE_MS = 90_000;

const temporaryFolders: string[] = [];
let mlflow: FakeMlflow;

beforeEach(async () => {
  mlflow = await startFakeMlflow({ authorization: `Bearer ${TOKEN}` });
});

afterEach(async () => {
  await mlflow.close();
});

afterAll(() => {
  for (const folder of temporaryFolders) rmSync(folder, { recursive: true, force: true });
});

function runExample(environment: Record<string, string>) {
  const project = mkdtempSync(join(tmpdir(), 'livestep-mlflow-example-'));
  temporaryFolders.push(project);
  const runFolder = join(project, 'livestep');
  const result = runNodeScript(MAIN_SCRIPT, {
    cwd: project,
    removeEnv: /^(LIVESTEP_|DVC_|STUDIO_|MLFLOW_|EPOCHS$)/,
    env: {
      LIVESTEP_DIR: runFolder,
      LIVESTEP_MODEL_PATH: join(project, 'model.json'),
      EPOCHS: String(EPOCHS),
      // The fault schedule alone costs seconds of backoff, most of it after training on a fast
      // machine: the end may wait longer than the default 5 s (what is asserted is completeness).
      LIVESTEP_END_TIMEOUT_MS: '30000',
      MLFLOW_TRACKING_URI: mlflow.url,
      MLFLOW_TRACKING_TOKEN: TOKEN,
      ...environment,
    },
    timeoutMs: EXIT_DEADLINE_MS,
  });
  return { project, runFolder, result };
}

/** params.yaml flattened as the MLflow sink documents it (`.` between levels, JSON for the rest). */
function flatParams(value: unknown, prefix = ''): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    if (typeof item === 'object' && item !== null && !Array.isArray(item)) {
      Object.assign(flat, flatParams(item, path));
    } else {
      flat[path] = typeof item === 'string' ? item : JSON.stringify(item);
    }
  }
  return flat;
}

describe('examples/tfjs-fit recording into MLflow', () => {
  it('arrives complete through 503s and 429s: every point once, params, tags, FINISHED', async () => {
    mlflow.inject(
      { status: 503, path: 'experiments/get-by-name' },
      { status: 429, path: 'experiments/create', retryAfter: '1' },
      { status: 503, path: 'runs/create' },
      { status: 429, path: 'runs/log-batch', retryAfter: '1' },
      { status: 503, path: 'runs/log-batch' },
      { status: 503, path: 'runs/update' },
    );
    const { project, runFolder, result: running } = runExample({});
    const result = await running;
    expect(result.code, result.stderr).toBe(0);
    expect(mlflow.violations).toEqual([]);
    expect(mlflow.faultsLeft).toBe(0);
    expect(mlflow.requests.filter((request) => request.fault)).toHaveLength(6);

    const run = mlflow.onlyRun();
    const runName = /Run "([^"]+)"/.exec(result.stdout)?.[1];
    expect(run.runName).toBe(runName);
    expect([...mlflow.experiments.values()].map((experiment) => experiment.name)).toEqual(['iris']);
    expect(run.status).toBe('FINISHED');
    expect(run.endTime).toBeGreaterThanOrEqual(run.startTime);
    expect(run.tags.get('mlflow.runName')).toBe(runName);
    expect(run.tags.get('mlflow.source.type')).toBe('LOCAL');
    expect(run.tags.get('mlflow.source.name')).toBe(MAIN_SCRIPT);

    // Every point the run folder has, once, in order, with its step and a timestamp in ms.
    const written = runFolderMetrics(runFolder);
    expect(written.size).toBeGreaterThanOrEqual(4);
    expect(new Set(run.metrics.map((metric) => metric.key))).toEqual(new Set(written.keys()));
    for (const [key, rows] of written) {
      const history = mlflow.history(run, key);
      expect(rows.length, key).toBeGreaterThanOrEqual(1);
      expect(
        history.map(({ step, value }) => ({ step, value })),
        key,
      ).toEqual(rows);
      for (const point of history) expect(point.timestamp).toBeGreaterThan(1_600_000_000_000);
    }
    expect(written.get('train/loss')).toHaveLength(EPOCHS);

    // The params, as params.yaml has them, flattened.
    const params = YAML.parse(readFileSync(join(runFolder, 'params.yaml'), 'utf8'));
    expect(Object.fromEntries(run.params)).toEqual(flatParams(params));
    expect(run.params.get('dataset.name')).toBe('iris');

    // The token went only into the Authorization header.
    for (const request of mlflow.requests) {
      expect(request.authorization).toBe(`Bearer ${TOKEN}`);
      expect(JSON.stringify(request.body ?? {})).not.toContain(TOKEN);
    }
    expect(result.stdout).not.toContain(TOKEN);
    expect(result.stderr).not.toContain(TOKEN);
    for (const file of filesUnder(project)) expect(readFileSync(file, 'utf8')).not.toContain(TOKEN);
  });

  it('stops posting at a refused (expired) token, naming MLFLOW_TRACKING_TOKEN, and training finishes', async () => {
    // The experiment and the run are created; then the token is refused.
    mlflow.inject({ status: 401, path: 'runs/log-batch', message: `token ${TOKEN} expired` });
    const { result: running } = runExample({});
    const result = await running;
    // The example says that not everything was delivered (exit code 1), after training to the end.
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/Trained on \d+ flowers/);
    expect(result.stderr).toMatch(/MLflow refused the credentials \(401 UNAUTHENTICATED/);
    expect(result.stderr).toMatch(/MLFLOW_TRACKING_TOKEN/);
    expect(result.stderr).not.toContain(TOKEN);
    expect(result.stdout).not.toContain(TOKEN);
    const refusedAt = mlflow.requests.findIndex((request) => request.status === 401);
    expect(refusedAt).toBeGreaterThan(-1);
    expect(mlflow.requests.slice(refusedAt + 1)).toEqual([]);
    expect(mlflow.violations).toEqual([]);
  });
});
