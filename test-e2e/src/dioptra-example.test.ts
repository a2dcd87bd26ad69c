// examples/tfjs-fit run as a real process with only DIOPTRA_API, DIOPTRA_JOB_ID and a login set,
// recording into a fake Dioptra on 127.0.0.1 that checks every body against Dioptra's schema
// (backends.md B) and answers 503s, 429s, a dropped connection and an expired session on the way:
// every metric point of the run folder must arrive once, with its step and a timestamp, under the
// name the documented mapping gives its series; the sink logs in again once, and the password and
// the session cookies appear nowhere but in the login body and the Cookie header. A refused login
// stops posting with a message naming the variables, and training still finishes.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeDioptraName } from '@livestep/core';
import { runNodeScript } from '@livestep/test-support';
import { type FakeDioptra, startFakeDioptra } from '@livestep/test-support/dioptra';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { filesUnder, runFolderMetrics } from './support/run-folder.js';

const MAIN_SCRIPT = fileURLToPath(new URL('../../examples/tfjs-fit/src/main.mjs', import.meta.url));
/** Looks like a real password, so a leak anywhere is found by a plain text search. */
const PASSWORD = 'dioptra-e2e-SECRET-password-0123456789';
const JOB = 42;
const EPOCHS = 6;
/** A few epochs of Iris take seconds, retries a few more; a process alive after this has hung. */
const EXIT_DEADLINE_MS = 90_000;

const temporaryFolders: string[] = [];
let dioptra: FakeDioptra;

beforeEach(async () => {
  dioptra = await startFakeDioptra({ users: { worker: PASSWORD }, jobs: [JOB] });
});

afterEach(async () => {
  await dioptra.close();
});

afterAll(() => {
  for (const folder of temporaryFolders) rmSync(folder, { recursive: true, force: true });
});

function runExample(environment: Record<string, string>) {
  const project = mkdtempSync(join(tmpdir(), 'livestep-dioptra-example-'));
  temporaryFolders.push(project);
  const runFolder = join(project, 'livestep');
  const result = runNodeScript(MAIN_SCRIPT, {
    cwd: project,
    removeEnv: /^(LIVESTEP_|DVC_|STUDIO_|MLFLOW_|DIOPTRA_|EPOCHS$)/,
    env: {
      LIVESTEP_DIR: runFolder,
      LIVESTEP_MODEL_PATH: join(project, 'model.json'),
      EPOCHS: String(EPOCHS),
      // The fault schedule alone costs seconds of backoff, most of it after training on a fast
      // machine: the end may wait longer than the default 5 s (what is asserted is completeness).
      LIVESTEP_END_TIMEOUT_MS: '30000',
      DIOPTRA_API: dioptra.url,
      DIOPTRA_JOB_ID: String(JOB),
      DIOPTRA_USERNAME: 'worker',
      DIOPTRA_PASSWORD: PASSWORD,
      ...environment,
    },
    timeoutMs: EXIT_DEADLINE_MS,
  });
  return { project, runFolder, result };
}

/** Every cookie value the fake handed out (from the Cookie headers it received). */
function cookieValues(): string[] {
  const values = new Set<string>();
  for (const request of dioptra.requests) {
    for (const pair of (request.cookie ?? '').split('; ').filter(Boolean)) {
      values.add(pair.slice(pair.indexOf('=') + 1));
    }
  }
  return [...values];
}

describe('examples/tfjs-fit recording into Dioptra', () => {
  it('arrives complete through 503s, 429s, a dropped connection and an expired session: every point once, with step and time', async () => {
    dioptra.inject(
      { status: 503, path: 'login' },
      { status: 429, path: 'metrics', retryAfter: '1' },
      { status: 503, path: 'metrics', after: 5 },
      { expireSession: true, path: 'metrics', after: 12 },
      { status: 429, path: 'metrics', after: 20 },
      { status: 503, path: 'metrics', after: 25 },
      { status: 0, path: 'metrics', after: 30 },
    );
    const { project, runFolder, result: running } = runExample({});
    const result = await running;
    expect(result.code, result.stderr).toBe(0);
    expect(dioptra.violations).toEqual([]);
    expect(dioptra.faultsLeft).toBe(0);
    expect(dioptra.requests.filter((request) => request.fault)).toHaveLength(7);
    // Logged in, then once more after the session expired; one 401 in all.
    expect(dioptra.logins).toEqual(['worker', 'worker']);
    expect(dioptra.requests.filter((request) => request.status === 401)).toHaveLength(1);

    // Every point the run folder has, once, in order, with its step and a timestamp.
    const written = runFolderMetrics(runFolder);
    expect(written.size).toBeGreaterThanOrEqual(4);
    const points = dioptra.points(JOB);
    expect(new Set(points.map((point) => decodeDioptraName(point.name)))).toEqual(
      new Set(written.keys()),
    );
    for (const [series, rows] of written) {
      const history = points.filter((point) => decodeDioptraName(point.name) === series);
      expect(rows.length, series).toBeGreaterThanOrEqual(1);
      expect(
        history.map(({ step, value }) => ({ step, value })),
        series,
      ).toEqual(rows);
      for (const point of history)
        expect(Date.parse(point.timestamp)).toBeGreaterThan(1_600_000_000_000);
    }
    expect(written.get('train/loss')).toHaveLength(EPOCHS);
    expect(points.some((point) => point.name === 'train__loss')).toBe(true);
    expect(points).toHaveLength([...written.values()].reduce((sum, rows) => sum + rows.length, 0));
    // Read back as Dioptra serves it (B.4, B.5), behind a login of the test's own.
    const login = await fetch(`${dioptra.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'worker', password: PASSWORD }),
    });
    const cookie = login.headers
      .getSetCookie()
      .map((header) => header.split(';')[0])
      .join('; ');
    const read = async (path: string) =>
      (await fetch(`${dioptra.url}/api/v1/jobs/${JOB}/${path}`, { headers: { cookie } })).json();
    const trainLoss = written.get('train/loss')!;
    expect(await read('metrics')).toContainEqual({
      name: 'train__loss',
      value: trainLoss.at(-1)!.value,
    });
    const snapshots = (await read('metrics/train__loss/snapshots?pageLength=1000')) as {
      totalNumResults: number;
      data: Array<{ step: number; value: number }>;
    };
    expect(snapshots.totalNumResults).toBe(EPOCHS);
    expect(snapshots.data.map(({ step, value }) => ({ step, value }))).toEqual(trainLoss);

    // The password only in the login body; the cookies only in Cookie headers.
    for (const request of dioptra.requests) {
      if (request.endpoint !== 'login') expect(request.raw).not.toContain(PASSWORD);
    }
    const secrets = [PASSWORD, ...cookieValues()];
    expect(secrets.length).toBeGreaterThan(2);
    const files = filesUnder(project).map((file) => readFileSync(file, 'utf8'));
    for (const secret of secrets) {
      expect(result.stdout).not.toContain(secret);
      expect(result.stderr).not.toContain(secret);
      for (const text of files) expect(text).not.toContain(secret);
    }
  });

  it('stops posting at a refused login, naming DIOPTRA_USERNAME and DIOPTRA_PASSWORD, and training finishes', async () => {
    const { result: running } = runExample({ DIOPTRA_PASSWORD: 'wrong-SECRET-password' });
    const result = await running;
    // The example says that not everything was delivered (exit code 1), after training to the end.
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/Trained on \d+ flowers/);
    expect(result.stderr).toMatch(
      /Dioptra refused the login \(401: Unauthorized: The password is incorrect/,
    );
    expect(result.stderr).toMatch(/DIOPTRA_USERNAME and DIOPTRA_PASSWORD/);
    expect(`${result.stdout}${result.stderr}`).not.toContain('wrong-SECRET-password');
    expect(dioptra.requests.map((request) => request.endpoint)).toEqual(['login']);
    expect(dioptra.violations).toEqual([]);
  });
});
