// examples/tfjs-fit run as a real process with only the CLEARML_* variables set, recording into
// a fake ClearML API server and file server on 127.0.0.1 (built from backends.md A; it checks
// every body) that answers 503s and 429s and expires the token on the way: the task must arrive
// complete (every metric point of the run folder once, under the documented metric/variant split,
// the params as hyperparams, the plots as Plotly figures, status completed), and the secret key
// and tokens must appear nowhere but in the Authorization header. Refused keys stop posting with a
// message naming the variables, and training still finishes.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clearmlSeries } from '@livestep/core';
import { runNodeScript } from '@livestep/test-support';
import { type FakeClearml, startFakeClearml } from '@livestep/test-support/clearml';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { filesUnder, runFolderMetrics } from './support/run-folder.js';

const MAIN_SCRIPT = fileURLToPath(new URL('../../examples/tfjs-fit/src/main.mjs', import.meta.url));
/** Looks like a real key, so a leak anywhere is found by a plain text search. */
const SECRET = 'clearml-e2e-SECRET-key-0123456789abcdef';
const ACCESS_KEY = 'E2EACCESSKEY0123';
const EPOCHS = 6;
const EXIT_DEADLINE_MS = 90_000;

const temporaryFolders: string[] = [];
let clearml: FakeClearml;

beforeEach(async () => {
  clearml = await startFakeClearml({ accessKey: ACCESS_KEY, secretKey: SECRET });
});

afterEach(async () => {
  await clearml.close();
});

afterAll(() => {
  for (const folder of temporaryFolders) rmSync(folder, { recursive: true, force: true });
});

function runExample(environment: Record<string, string>) {
  const project = mkdtempSync(join(tmpdir(), 'livestep-clearml-example-'));
  temporaryFolders.push(project);
  const runFolder = join(project, 'livestep');
  const result = runNodeScript(MAIN_SCRIPT, {
    cwd: project,
    removeEnv: /^(LIVESTEP_|DVC_|STUDIO_|MLFLOW_|DIOPTRA_|CLEARML_|TRAINS_|EPOCHS$)/,
    env: {
      LIVESTEP_DIR: runFolder,
      LIVESTEP_MODEL_PATH: join(project, 'model.json'),
      EPOCHS: String(EPOCHS),
      // The fault schedule alone costs seconds of backoff, most of it after training on a fast
      // machine: the end may wait longer than the default 5 s (what is asserted is completeness).
      LIVESTEP_END_TIMEOUT_MS: '30000',
      CLEARML_API_HOST: clearml.url,
      CLEARML_FILES_HOST: clearml.filesUrl,
      CLEARML_API_ACCESS_KEY: ACCESS_KEY,
      CLEARML_API_SECRET_KEY: SECRET,
      ...environment,
    },
    timeoutMs: EXIT_DEADLINE_MS,
  });
  return { project, runFolder, result };
}

/** A DVCLive series name back to its name and labels (labels are trailing `key=value` segments). */
function seriesOf(path: string): { metric: string; variant: string } {
  const segments = path.split('/');
  const labels: Record<string, string> = {};
  while (segments.length > 1 && segments.at(-1)!.includes('=')) {
    const [key, value] = segments.pop()!.split('=');
    labels[key!] = value!;
  }
  return clearmlSeries(segments.join('/'), labels);
}

/** params.yaml flattened as the ClearML sink documents it (`/` between levels, JSON for the rest). */
function flatParams(value: unknown, prefix = ''): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    const path = prefix === '' ? key : `${prefix}/${key}`;
    if (typeof item === 'object' && item !== null && !Array.isArray(item)) {
      Object.assign(flat, flatParams(item, path));
    } else {
      flat[path] = typeof item === 'string' ? item : JSON.stringify(item);
    }
  }
  return flat;
}

describe('examples/tfjs-fit recording into ClearML', () => {
  it('arrives complete through 503s, 429s and an expired token: every point once, params, plots, completed', async () => {
    clearml.inject(
      { status: 503, path: 'projects.get_all' },
      { status: 429, path: 'tasks.create', retryAfter: '1' },
      { status: 503, path: 'events.add_batch' },
      { status: 429, path: 'events.add_batch', retryAfter: '1' },
      { status: 401, path: 'events.add_batch', expireTokens: true },
      { status: 503, path: 'tasks.completed' },
    );
    const { project, runFolder, result: running } = runExample({});
    const result = await running;
    expect(result.code, result.stderr).toBe(0);
    expect(clearml.violations).toEqual([]);
    expect(clearml.faultsLeft).toBe(0);
    expect(clearml.logins).toHaveLength(2);

    const task = clearml.onlyTask();
    const runName = /Run "([^"]+)"/.exec(result.stdout)?.[1];
    expect(task).toMatchObject({ name: runName, type: 'training', status: 'completed' });
    expect(clearml.projects.get(task.project!)?.name).toBe('iris');
    expect(result.stderr).toContain(`/projects/${task.project}/experiments/${task.id}/output/log`);

    // Every point the run folder has, once, in order, under the documented split.
    const written = runFolderMetrics(runFolder);
    expect(written.size).toBeGreaterThanOrEqual(4);
    expect(written.get('train/loss')).toHaveLength(EPOCHS);
    let points = 0;
    for (const [name, rows] of written) {
      const { metric, variant } = seriesOf(name);
      expect(clearml.scalars(task.id, metric, variant), name).toEqual(
        rows.map(({ step, value }) => ({ iter: step, value })),
      );
      points += rows.length;
    }
    expect(clearml.scalarEvents(task.id)).toHaveLength(points);

    // The params, as params.yaml has them, in section General.
    const params = YAML.parse(readFileSync(join(runFolder, 'params.yaml'), 'utf8'));
    const general = clearml.hyperparams(task.id).General ?? {};
    expect(
      Object.fromEntries(Object.entries(general).map(([name, param]) => [name, param.value])),
    ).toEqual(flatParams(params));

    // The evaluation plots, as Plotly figures: a heatmap for the confusion matrix, lines for curves.
    const plots = clearml.plots(task.id);
    expect(plots.length).toBeGreaterThanOrEqual(3);
    const types = plots.map((plot) => (JSON.parse(plot.plot_str).data[0] as { type: string }).type);
    expect(types).toContain('heatmap');
    expect(types).toContain('scatter');

    // The secret and every token went only into the Authorization header.
    const tokens = clearml.logins.map((login) => login.token);
    for (const request of clearml.requests) {
      const body = JSON.stringify(request.body ?? {});
      expect(body).not.toContain(SECRET);
      for (const token of tokens) expect(body).not.toContain(token);
    }
    for (const secret of [SECRET, ...tokens]) {
      expect(result.stdout).not.toContain(secret);
      expect(result.stderr).not.toContain(secret);
      for (const file of filesUnder(project))
        expect(readFileSync(file, 'utf8')).not.toContain(secret);
    }
  });

  it('stops posting at refused keys, naming the variables, and training finishes', async () => {
    const { result: running } = runExample({ CLEARML_API_SECRET_KEY: `${SECRET}-revoked` });
    const result = await running;
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/Trained on \d+ flowers/);
    expect(result.stderr).toMatch(/ClearML refused the credentials \(401/);
    expect(result.stderr).toMatch(/CLEARML_API_ACCESS_KEY and CLEARML_API_SECRET_KEY/);
    expect(result.stderr).not.toContain(SECRET);
    expect(clearml.tasks.size).toBe(0);
    expect(clearml.requests.filter((request) => request.path === 'auth.login')).toHaveLength(1);
    expect(clearml.violations).toEqual([]);
  });
});
