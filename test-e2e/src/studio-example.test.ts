// examples/custom-loop run as a real process with the DVC_STUDIO_* variables a user (or
// `dvc exp run`) sets, streaming to a fake DVC Studio on 127.0.0.1: every body it posts must pass
// the api/live schema check, in the order start, data..., done, with every metric row, and the
// token must appear nowhere but in the Authorization header (not in output, not in any file).
// Nothing but the environment turns Studio on: core adds the Studio sink by itself.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runNodeScript } from '@livestep/test-support';
import { type FakeStudio, startFakeStudio } from '@livestep/test-support/studio';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { filesUnder } from './support/run-folder.js';

const TRAIN_SCRIPT = fileURLToPath(
  new URL('../../examples/custom-loop/src/train.mjs', import.meta.url),
);
/** Looks like a real Studio token, so a leak anywhere is found by a plain text search. */
const TOKEN = 'isat_E2eStudioToken0123456789SECRET';
const REPOSITORY_URL = 'https://github.com/livestep/custom-loop-example.git';
const BASELINE_REVISION = 'c0ffee0123456789c0ffee0123456789c0ffee01';
const EPOCHS = 40;
const METRICS = ['train/loss', 'train/accuracy', 'eval/loss', 'eval/accuracy'];
/** The example trains in well under a second; a process alive after this has hung. */
const EXIT_DEADLINE_MS = 30_000;

type Body = Record<string, unknown>;

const temporaryFolders: string[] = [];
let studio: FakeStudio;

beforeEach(async () => {
  studio = await startFakeStudio(TOKEN);
});

afterEach(async () => {
  await studio.stop();
});

afterAll(() => {
  for (const folder of temporaryFolders) rmSync(folder, { recursive: true, force: true });
});

/** Runs the example with only `environment` of the livestep, DVC and Studio variables. */
function runExample(cwd: string, environment: Record<string, string>) {
  return runNodeScript(TRAIN_SCRIPT, {
    cwd,
    removeEnv: /^(LIVESTEP_|DVC_|STUDIO_|EPOCHS$)/,
    env: environment,
    timeoutMs: EXIT_DEADLINE_MS,
  });
}

/** TSV rows (timestamp, step, value) as the directory sink wrote them. */
function readTsv(path: string): Array<{ step: number; value: string }> {
  const [, ...lines] = readFileSync(path, 'utf8').trim().split('\n');
  return lines.map((line) => {
    const [, step, value] = line.split('\t');
    return { step: Number(step), value: value! };
  });
}

describe('examples/custom-loop streaming to DVC Studio', () => {
  it('posts only valid bodies, start/data/done in order, every row, and never leaks the token', async () => {
    // Outside any git repository, so the baseline comes from DVC_EXP_BASELINE_REV.
    const project = mkdtempSync(join(tmpdir(), 'livestep-studio-example-'));
    temporaryFolders.push(project);
    const runFolder = join(project, 'livestep');
    const environment = {
      DVC_STUDIO_TOKEN: TOKEN,
      DVC_STUDIO_URL: studio.url,
      DVC_STUDIO_REPO_URL: REPOSITORY_URL,
      DVC_EXP_BASELINE_REV: BASELINE_REVISION,
      LIVESTEP_DIR: runFolder,
      EPOCHS: String(EPOCHS),
    };

    const result = await runExample(project, environment);
    expect(result.code, result.stderr).toBe(0);

    // Every body passed the schema (and the sequence) check; nothing was refused.
    expect(studio.violations).toEqual([]);
    expect(studio.requests.every((request) => request.status === 200)).toBe(true);
    const types = studio.accepted().map((body) => body.type);
    expect(types[0]).toBe('start');
    expect(types.at(-1)).toBe('done');
    expect(types.filter((type) => type === 'start')).toHaveLength(1);
    expect(types.filter((type) => type === 'done')).toHaveLength(1);
    expect(types.length).toBeGreaterThanOrEqual(3);

    const runName = /Run "([^"]+)"/.exec(result.stdout)?.[1];
    for (const body of studio.accepted()) {
      expect(body.repo_url).toBe(REPOSITORY_URL);
      expect(body.baseline_sha).toBe(BASELINE_REVISION);
      expect(body.name).toBe(runName);
      expect(body.client).toBe('dvclive');
    }
    const [start] = studio.accepted('start');
    expect((start!.params as Body)['livestep/params.yaml']).toMatchObject({
      epochs: EPOCHS,
      learningRate: 0.2,
    });

    // Every metric row arrived once, in order, with the values the run folder has.
    for (const metric of METRICS) {
      const rows = studio.rows(`livestep/plots/metrics/${metric}.tsv`);
      const column = metric.split('/').at(-1)!;
      expect(rows.map((row) => row.step)).toEqual(
        Array.from({ length: EPOCHS }, (_, step) => step),
      );
      const written = readTsv(join(runFolder, 'plots', 'metrics', `${metric}.tsv`));
      expect(rows.map((row) => Number(row[column]))).toEqual(
        written.map((row) => Number(row.value)),
      );
      for (const row of rows) expect(row.timestamp).toMatch(/^\d{13}$/);
    }
    const data = studio.accepted('data');
    const last = data.filter((body) => body.metrics !== undefined).at(-1)!;
    expect(last.step).toBe(EPOCHS);
    const summary = (last.metrics as Record<string, { data: Body }>)['livestep/metrics.json']!.data;
    expect(summary).toEqual(JSON.parse(readFileSync(join(runFolder, 'metrics.json'), 'utf8')));
    const plots = Object.assign({}, ...data.map((body) => body.plots ?? {})) as Record<
      string,
      { data: Body[] }
    >;
    expect(plots['livestep/plots/sklearn/confusion_matrix.json']!.data).toEqual(
      JSON.parse(
        readFileSync(join(runFolder, 'plots', 'sklearn', 'confusion_matrix.json'), 'utf8'),
      ),
    );

    // The token went only into the Authorization header.
    for (const request of studio.requests) {
      expect(request.authorization).toBe(`token ${TOKEN}`);
      expect(request.text).not.toContain(TOKEN);
    }
    expect(result.stdout).not.toContain(TOKEN);
    expect(result.stderr).not.toContain(TOKEN);
    const files = filesUnder(project);
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) expect(readFileSync(file, 'utf8')).not.toContain(TOKEN);
  });
});
