// `livestep sync <run folder> --to mlflow|clearml|dioptra`: a run recorded offline (or one whose
// tracker was down past the end of training) sent from its folder, by the built CLI as a real
// process, to fake MLflow, ClearML and Dioptra servers (built from backends.md, checking every
// body): every point once with its step, the params, the final status; through a 503.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClearmlSink, createDirectorySink, Run } from '@livestep/core';
import { startNodeScript } from '@livestep/test-support';
import { startFakeClearml } from '@livestep/test-support/clearml';
import { startFakeDioptra } from '@livestep/test-support/dioptra';
import { startFakeMlflow } from '@livestep/test-support/mlflow';
import { describe, expect, it } from 'vitest';
import { cliPath, runLivestep } from './test-support/livestep-cli.js';

const STEPS = 40;

/** A run recorded into a folder only; returns the folder and what was logged. */
async function recordFolder(): Promise<{ runFolder: string; loss: number[] }> {
  const runFolder = join(mkdtempSync(join(tmpdir(), 'livestep-cli-trackers-')), 'livestep');
  const run = new Run({
    experiment: 'offline',
    name: 'recorded',
    sinks: [createDirectorySink({ directory: runFolder })],
    exitHooks: false,
    collectGit: false,
  });
  run.logParams({ learningRate: 0.1, model: { units: 8 } });
  const loss: number[] = [];
  for (let step = 0; step < STEPS; step++) {
    loss.push(1 / (step + 1));
    run.logMetric('train/loss', loss[step]!);
    run.nextStep();
  }
  await run.end('completed');
  return { runFolder, loss };
}

describe('livestep sync to the trackers', () => {
  it('--to clearml: a training task with every point, the hyperparams, completed', async () => {
    const { runFolder, loss } = await recordFolder();
    const clearml = await startFakeClearml({ accessKey: 'AK', secretKey: 'sync-SECRET-key-0123' });
    try {
      clearml.inject({ status: 503, path: 'events.add_batch', retryAfter: '0' });
      const result = await runLivestep(['sync', runFolder, '--to', 'clearml', '--quiet'], {
        CLEARML_API_HOST: clearml.url,
        CLEARML_API_ACCESS_KEY: 'AK',
        CLEARML_API_SECRET_KEY: 'sync-SECRET-key-0123',
      });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/1 run\(s\) \("recorded"\): \d+ events stored, 0 failed/);
      expect(result.stdout + result.stderr).not.toContain('sync-SECRET-key-0123');
      expect(clearml.violations).toEqual([]);
      expect(clearml.faultsLeft).toBe(0);
      const task = clearml.onlyTask();
      expect(task).toMatchObject({ name: 'recorded', status: 'completed' });
      expect(clearml.scalars(task.id, 'train', 'loss')).toEqual(
        loss.map((value, iter) => ({ iter, value })),
      );
      const general = clearml.hyperparams(task.id).General ?? {};
      expect(general.learningRate?.value).toBe('0.1');
      expect(general['model/units']?.value).toBe('8');
    } finally {
      await clearml.close();
    }
  });

  it('--to mlflow: a FINISHED run with every point and the params', async () => {
    const { runFolder, loss } = await recordFolder();
    const mlflow = await startFakeMlflow({ authorization: 'Bearer sync-mlflow-token' });
    try {
      mlflow.inject({ status: 503, path: 'runs/log-batch' });
      const result = await runLivestep(['sync', runFolder, '--to', 'mlflow', '--quiet'], {
        MLFLOW_TRACKING_URI: mlflow.url,
        MLFLOW_TRACKING_TOKEN: 'sync-mlflow-token',
      });
      expect(result.code, result.stderr).toBe(0);
      expect(mlflow.violations).toEqual([]);
      const run = mlflow.onlyRun();
      expect(run).toMatchObject({ runName: 'recorded', status: 'FINISHED' });
      expect(mlflow.history(run, 'train/loss').map(({ step, value }) => ({ step, value }))).toEqual(
        loss.map((value, step) => ({ step, value })),
      );
      expect(run.params.get('model.units')).toBe('8');
    } finally {
      await mlflow.close();
    }
  });

  it('--to dioptra: every point into the job', async () => {
    const { runFolder, loss } = await recordFolder();
    const dioptra = await startFakeDioptra({ jobs: [7], users: { me: 'sync-dioptra-password' } });
    try {
      const result = await runLivestep(['sync', runFolder, '--to', 'dioptra', '--quiet'], {
        DIOPTRA_API: dioptra.url,
        DIOPTRA_JOB_ID: '7',
        DIOPTRA_USERNAME: 'me',
        DIOPTRA_PASSWORD: 'sync-dioptra-password',
      });
      expect(result.code, result.stderr).toBe(0);
      expect(dioptra.violations).toEqual([]);
      expect(dioptra.points(7, 'train__loss').map(({ step, value }) => ({ step, value }))).toEqual(
        loss.map((value, step) => ({ step, value })),
      );
    } finally {
      await dioptra.close();
    }
  });

  it('names the variables when a tracker is not configured', async () => {
    const { runFolder } = await recordFolder();
    const result = await runLivestep(['sync', runFolder, '--to', 'clearml', '--quiet'], {});
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/CLEARML_API_HOST/);
    expect(result.stdout).toMatch(/0 events stored, \d+ failed/);
  });

  it('stops when the tracker takes nothing for --give-up-after, saying so, instead of waiting for ever', async () => {
    const { runFolder } = await recordFolder();
    const clearml = await startFakeClearml({ accessKey: 'AK', secretKey: 'sync-SECRET-key-0123' });
    try {
      clearml.failNext(10_000, 503, { path: 'events.add_batch' });
      const started = Date.now();
      const result = await runLivestep(
        ['sync', runFolder, '--to', 'clearml', '--quiet', '--give-up-after', '1'],
        {
          CLEARML_API_HOST: clearml.url,
          CLEARML_API_ACCESS_KEY: 'AK',
          CLEARML_API_SECRET_KEY: 'sync-SECRET-key-0123',
        },
      );
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        /stopped: ClearML took nothing for 1 s \(events\.add_batch answered 503/,
      );
      // The task was made and ended (start, params, end); none of the 40 points got in.
      expect(result.stdout).toMatch(/3 events stored, 40 failed/);
      // Bounded by the give-up time and the close's few seconds, not the 5 minutes of a deadline.
      expect(Date.now() - started).toBeLessThan(25_000);
    } finally {
      await clearml.close();
    }
  });

  it('takes only the four tracker names as targets (not an inherited key)', async () => {
    const { runFolder } = await recordFolder();
    const result = await runLivestep(['sync', runFolder, '--to', 'constructor', '--quiet'], {});
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/is not a URL/);
  });

  it('stops at once on Ctrl-C while the tracker is down, saying the run there is incomplete (exit 130)', async () => {
    const { runFolder } = await recordFolder();
    const clearml = await startFakeClearml({ accessKey: 'AK', secretKey: 'sync-SECRET-key-0123' });
    try {
      clearml.failNext(10_000, 503, { path: 'events.add_batch' });
      const sync = startNodeScript(cliPath, {
        args: ['sync', runFolder, '--to', 'clearml', '--quiet'],
        env: {
          LIVESTEP_URL: '',
          CLEARML_API_HOST: clearml.url,
          CLEARML_API_ACCESS_KEY: 'AK',
          CLEARML_API_SECRET_KEY: 'sync-SECRET-key-0123',
        },
        timeoutMs: 60_000,
      });
      await sync.waitForOutput(/retrying with backoff/, 30_000);
      sync.kill('SIGINT');
      const outcome = await sync.exited;
      expect(outcome.code).toBe(130);
      expect(outcome.stderr).toMatch(/interrupted; the run "recorded" in ClearML is incomplete/);
      // Well before the default 60 s without progress.
      expect(outcome.exitMsAfterSignal).toBeLessThan(15_000);
    } finally {
      await clearml.close();
    }
  }, 90_000);

  it('--to clearml completes the task a live run left short, not a second one', async () => {
    const runFolder = join(mkdtempSync(join(tmpdir(), 'livestep-cli-trackers-')), 'livestep');
    const clearml = await startFakeClearml({ accessKey: 'AK', secretKey: 'sync-SECRET-key-0123' });
    const environment = {
      CLEARML_API_HOST: clearml.url,
      CLEARML_API_ACCESS_KEY: 'AK',
      CLEARML_API_SECRET_KEY: 'sync-SECRET-key-0123',
    };
    try {
      // The live run: ClearML takes the task but no point before the run ends.
      clearml.failNext(10_000, 503, { path: 'events.add_batch' });
      const run = new Run({
        experiment: 'offline',
        name: 'recorded',
        sinks: [
          createDirectorySink({ directory: runFolder }),
          createClearmlSink({ environment, onWarning() {}, onTaskLink() {} }),
        ],
        exitHooks: false,
        collectGit: false,
      });
      for (let step = 0; step < STEPS; step++) run.logMetric('train/loss', step, { step });
      const live = await run.end('completed', { timeoutMs: 3_000 });
      expect(live.ok).toBe(false);
      const task = clearml.onlyTask();
      expect(clearml.scalars(task.id, 'train', 'loss')).toEqual([]);

      clearml.clearFaults(); // ClearML is healthy again
      const result = await runLivestep(
        ['sync', runFolder, '--to', 'clearml', '--quiet'],
        environment,
      );
      expect(result.code, result.stderr).toBe(0);
      expect(clearml.tasks.size).toBe(1);
      expect(clearml.scalars(task.id, 'train', 'loss')).toHaveLength(STEPS);
      expect(clearml.status(task.id)).toBe('completed');
      expect(clearml.violations).toEqual([]);
    } finally {
      await clearml.close();
    }
  });
});
