/** `livestep sync`, run as the real command (a child process) against a real receiver. */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  createDirectorySink,
  createHttpSink,
  createJsonlSink,
  Run,
  type Sink,
} from '@livestep/core';
import {
  type FakeLivestepServer,
  startFakeLivestepServer,
  startNodeScript,
} from '@livestep/test-support';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cliPath, runLivestep } from './test-support/livestep-cli.js';

const TOKEN = 'lst_cli_token_77ab';

let server: FakeLivestepServer;
beforeEach(async () => {
  server = await startFakeLivestepServer();
});
afterEach(() => server.stop());

function livestep(args: string[], environment: Record<string, string> = {}, cwd?: string) {
  return runLivestep(args, environment, cwd === undefined ? {} : { cwd });
}

async function recordRun(sinks: Sink[], points = 250, endTimeoutMs = 30_000) {
  const run = new Run({
    experiment: 'offline',
    name: 'recorded',
    sinks,
    exitHooks: false,
    collectGit: false,
  });
  run.logParams({ learningRate: 0.1 });
  for (let step = 0; step < points; step++) {
    run.logMetric('train/loss', 1 / (step + 1));
    run.logMetric('eval/loss', step === 3 ? Number.NaN : 2 / (step + 1));
    run.nextStep();
  }
  await run.end('completed', { timeoutMs: endTimeoutMs });
  return run;
}

describe('livestep sync', () => {
  it('replays a JSONL record to a server, and a second sync stores nothing twice', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'livestep-cli-'));
    const record = join(folder, 'run.jsonl');
    await recordRun([createJsonlSink({ path: record })], 1_500);
    const first = await livestep(['sync', record, '--to', server.url], { LIVESTEP_TOKEN: TOKEN });
    expect(first.code).toBe(0);
    expect(first.stderr).toContain(`sync ${record}: 3003 events`); // progress, one line when not a terminal
    expect(first.stdout).toContain('1 run(s) ("recorded"): 3003 events stored, 0 failed');
    expect(server.events.size).toBe(3_003);
    expect(server.metricValues('eval/loss')[3]).toBe('nan');
    expect(server.requests.every((request) => request.authorization === `Bearer ${TOKEN}`)).toBe(
      true,
    );
    const second = await livestep(['sync', record, '--to', server.url]);
    expect(second.code).toBe(0);
    expect(server.events.size).toBe(3_003);
    expect(server.duplicates).toBe(3_003);
  });

  it('uploads a record whose writer was killed mid-append, up to the cut-off line, and says so', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'livestep-cli-'));
    const record = join(folder, 'run.jsonl');
    await recordRun([createJsonlSink({ path: record })], 10);
    const whole = readFileSync(record, 'utf8');
    // The `done` line, half written: what an out-of-memory kill leaves behind.
    writeFileSync(record, whole.slice(0, whole.lastIndexOf('"kind":"done"')));
    const result = await livestep(['sync', record, '--to', server.url]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(
      `line 24 of ${record} was cut off (its writer was killed in the middle of an append)`,
    );
    // start, params and 20 metrics: everything that was written whole.
    expect(server.events.size).toBe(22);
    expect(server.metricValues('train/loss')).toHaveLength(10);
  });

  it('replays a run folder in DVCLive layout, idempotently, taking LIVESTEP_URL as the target', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'livestep-cli-'));
    const runFolder = join(folder, 'livestep');
    await recordRun([createDirectorySink({ directory: runFolder })], 20);
    const first = await livestep(['sync', runFolder, '--experiment', 'iris'], {
      LIVESTEP_URL: server.url,
    });
    expect(first.code).toBe(0);
    const events = [...server.events.values()];
    // --experiment wins; the name is the run's own, from the folder's livestep.json.
    expect(events[0]).toMatchObject({ kind: 'start', experiment: 'iris', name: 'recorded' });
    expect(events.filter((event) => event.kind === 'params')).toEqual([
      expect.objectContaining({ params: { learningRate: 0.1 } }),
    ]);
    expect(server.metricValues('train/loss')).toEqual(
      Array.from({ length: 20 }, (_, step) => 1 / (step + 1)),
    );
    expect(server.metricValues('eval/loss')[3]).toBe('nan');
    expect(events.at(-1)).toMatchObject({ kind: 'done', status: 'completed' });
    const stored = server.events.size;
    await livestep(['sync', runFolder, '--experiment', 'iris'], { LIVESTEP_URL: server.url });
    expect(server.events.size).toBe(stored);
  });

  it('syncs a run folder as the run that wrote it: its name, experiment, failed status with its error, and labels', async () => {
    const runFolder = join(mkdtempSync(join(tmpdir(), 'livestep-cli-')), 'livestep');
    const run = new Run({
      experiment: 'iris',
      name: 'mlp-array',
      sinks: [createDirectorySink({ directory: runFolder })],
      exitHooks: false,
      collectGit: false,
    });
    run.logMetric('eval/f1', 0.9, { labels: { class: 'setosa' } });
    run.logMetric('eval/f1', 0.7, { labels: { class: 'virginica' } });
    run.logMetric('eval/accuracy', 0.8);
    await run.end('failed', { error: new Error('evaluate() threw: batch 3 has no rows') });

    const result = await livestep(['sync', runFolder, '--to', server.url]);
    expect(result.code, result.stderr).toBe(0);
    const events = [...server.events.values()];
    expect(events[0]).toMatchObject({ kind: 'start', experiment: 'iris', name: 'mlp-array' });
    const f1 = events.filter((event) => event.kind === 'metric' && event.name === 'eval/f1');
    expect(f1.map((event) => (event as { labels?: unknown }).labels)).toEqual([
      { class: 'setosa' },
      { class: 'virginica' },
    ]);
    expect(events.some((event) => event.kind === 'metric' && event.name.includes('class='))).toBe(
      false,
    );
    expect(events.at(-1)).toMatchObject({
      kind: 'done',
      status: 'failed',
      error: expect.objectContaining({ message: 'evaluate() threw: batch 3 has no rows' }),
    });
  });

  it('delivers a second run trained in the same folder, and re-syncing either stores nothing twice', async () => {
    const runFolder = join(mkdtempSync(join(tmpdir(), 'livestep-cli-')), 'livestep');
    await recordRun([createDirectorySink({ directory: runFolder })], 50);
    expect((await livestep(['sync', runFolder, '--to', server.url])).code).toBe(0);
    const afterFirst = server.events.size;
    expect(afterFirst).toBe(50 * 2 + 3);
    // A new training in the same default folder: a new run, whose rows are new events.
    await recordRun([createDirectorySink({ directory: runFolder })], 50);
    expect((await livestep(['sync', runFolder, '--to', server.url])).code).toBe(0);
    expect(server.events.size).toBe(2 * afterFirst);
    expect([...server.events.values()].filter((event) => event.kind === 'start')).toHaveLength(2);
    await livestep(['sync', runFolder, '--to', server.url]);
    expect(server.events.size).toBe(2 * afterFirst);
  });

  it('syncs a run whose writer was killed as interrupted, and says so', async () => {
    const runFolder = join(mkdtempSync(join(tmpdir(), 'livestep-cli-')), 'livestep');
    const run = new Run({
      name: 'killed',
      sinks: [createDirectorySink({ directory: runFolder })],
      exitHooks: false,
      collectGit: false,
    });
    run.logMetric('train/loss', 1);
    await run.flush();
    // As after kill -9: livestep.json says running, and the lock names a process that is gone.
    writeFileSync(
      join(runFolder, '.livestep.lock'),
      JSON.stringify({
        pid: 2 ** 22 + 12_345,
        host: hostname(),
        owner: 'run "killed"',
        since: 'then',
      }),
    );
    const result = await livestep(['sync', runFolder, '--to', server.url]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(
      'was left running by a writer that is gone (killed?); syncing it as interrupted',
    );
    expect([...server.events.values()].at(-1)).toMatchObject({
      kind: 'done',
      status: 'interrupted',
    });
    await run.end();
  });

  it('never turns a torn TSV cell into a number: a cut-off last row is skipped with a note, a broken row named', async () => {
    const runFolder = join(mkdtempSync(join(tmpdir(), 'livestep-cli-')), 'livestep');
    await recordRun([createDirectorySink({ directory: runFolder })], 3);
    const tsv = join(runFolder, 'plots', 'metrics', 'train', 'loss.tsv');
    // A writer killed in the middle of a row: `timestamp<TAB>3<TAB>` and no newline.
    writeFileSync(tsv, `${readFileSync(tsv, 'utf8')}1764547200000\t3\t`);
    const result = await livestep(['sync', runFolder, '--to', server.url]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`the last row of ${tsv} was cut off`);
    expect(server.metricValues('train/loss')).toEqual([1, 1 / 2, 1 / 3]);

    const broken = join(mkdtempSync(join(tmpdir(), 'livestep-cli-')), 'livestep');
    await recordRun([createDirectorySink({ directory: broken })], 3);
    const brokenTsv = join(broken, 'plots', 'metrics', 'eval', 'loss.tsv');
    const rows = readFileSync(brokenTsv, 'utf8').split('\n');
    rows[2] = `${rows[2]!.split('\t').slice(0, 2).join('\t')}\t`;
    writeFileSync(brokenTsv, rows.join('\n'));
    const refused = await livestep(['sync', broken, '--to', server.url]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`${brokenTsv} row 3: the value is empty`);
  });

  it('counts a batch stored only on an acknowledgement, and halves 413s a bounded number of times', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'livestep-cli-'));
    const record = join(folder, 'run.jsonl');
    await recordRun([createJsonlSink({ path: record })], 100);
    // A 200 whose body is cut off, then an empty 200: not acknowledgements; sent again.
    server.cutOffNext(1);
    server.failNext(1, 200, { body: '' });
    const first = await livestep(['sync', record, '--to', server.url]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain('answered 200 without acknowledging the batch');
    expect(server.events.size).toBe(203);

    // A server that refuses every batch as too large: a few dozen requests, not one per event.
    const large = join(folder, 'large.jsonl');
    await recordRun([createJsonlSink({ path: large })], 3_000);
    server.maxEventsPerBatch = 0;
    const before = server.requests.length;
    const refused = await livestep(['sync', large, '--to', server.url]);
    expect(refused.code).toBe(1);
    expect(server.requests.length - before).toBeLessThanOrEqual(60);
    expect(refused.stdout).toContain('0 events stored, 6003 failed');
  });

  it('uploads what an HTTP sink spooled while the server was down', async () => {
    const spoolDirectory = mkdtempSync(join(tmpdir(), 'livestep-cli-spool-'));
    await server.stop();
    const warnings: string[] = [];
    await recordRun(
      [
        createHttpSink({
          url: server.url,
          spoolDirectory,
          spillAfterMs: 50,
          retryPolicy: { initialDelayMs: 10, maxDelayMs: 50 },
          onWarning: (message) => warnings.push(message),
        }),
      ],
      250,
      500,
    );
    // The spool keeps runs of points as lines of metric columns: sync expands them.
    const spooled = readdirSync(spoolDirectory).filter((name) => name.endsWith('.jsonl'));
    const lines = spooled.flatMap((name) =>
      readFileSync(join(spoolDirectory, name), 'utf8').trimEnd().split('\n'),
    );
    expect(lines.some((line) => JSON.parse(line).kind === 'metrics')).toBe(true);
    await server.start();
    const result = await livestep(['sync', spoolDirectory, '--to', server.url, '--quiet']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const kinds = [...server.events.values()].map((event) => event.kind);
    expect(kinds[0]).toBe('start');
    expect(kinds.at(-1)).toBe('done');
    expect(server.metricValues('train/loss')).toHaveLength(250);
  });

  it('fails with the server message, and never prints the token', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'livestep-cli-'));
    const record = join(folder, 'run.jsonl');
    await recordRun([createJsonlSink({ path: record })], 5);
    server.token = 'another-token';
    const result = await livestep(['sync', record, '--to', server.url], { LIVESTEP_TOKEN: TOKEN });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /events not stored: 127\.0\.0\.1:\d+ answered 401: invalid token/,
    );
    expect(result.stdout + result.stderr).not.toContain(TOKEN);
  });

  it('explains bad usage and bad input', async () => {
    expect((await livestep([])).code).toBe(2);
    expect((await livestep(['--help'])).stdout).toContain('Usage: livestep <command>');
    const noTarget = await livestep(['sync', '.']);
    expect(noTarget.code).toBe(2);
    expect(noTarget.stderr).toContain('sync needs a target');
    const missing = await livestep(['sync', '/no/such/run', '--to', server.url]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('/no/such/run does not exist');
    const folder = mkdtempSync(join(tmpdir(), 'livestep-cli-'));
    writeFileSync(
      join(folder, 'broken.jsonl'),
      '{"protocol":1,"run":{"id":"x","experiment":"e","name":"n"}}\n',
    );
    const invalid = await livestep(['sync', join(folder, 'broken.jsonl'), '--to', server.url]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/is not a valid record: run\.id/);
    const insecure = await livestep([
      'sync',
      join(folder, 'broken.jsonl'),
      '--to',
      'http://example.com',
    ]);
    expect(insecure.code).toBe(2);
    expect(insecure.stderr).toMatch(/refusing plain http to example\.com .*use https/);
    expect(insecure.stderr).not.toContain('LIVESTEP_URL');
    expect(insecure.stderr).not.toMatch(/\n\s+at /);
  });

  it('names the flag, never the password, and prints no stack for a target that cannot be one', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'livestep-cli-'));
    const record = join(folder, 'run.jsonl');
    await recordRun([createJsonlSink({ path: record })], 5);
    const ftp = await livestep(['sync', record, '--to', 'ftp://x']);
    expect(ftp.code).toBe(2);
    expect(ftp.stderr).toMatch(/--to ftp:\/\/x uses ftp; a livestep server takes http or https/);
    const secret = await livestep(['sync', record, '--to', 'https://user:hunter2@example.com']);
    expect(secret.code).toBe(2);
    expect(secret.stderr).toContain('carries credentials; put the token in LIVESTEP_TOKEN');
    const unparsable = await livestep(['sync', record, '--to', 'http://user:hunter2@[bad']);
    expect(unparsable.code).toBe(2);
    expect(unparsable.stderr).toContain('--to is not a URL');
    for (const result of [ftp, secret, unparsable]) {
      expect(result.stderr).not.toContain('hunter2');
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('says which file is not a record (an ONNX model passed by mistake)', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'livestep-cli-'));
    const model = join(folder, 'model.onnx');
    writeFileSync(model, Buffer.from([0x08, 0x07, 0x12, 0x0a, 0x0a, 0x00, 0xff, 0x0a, 0x01, 0x02]));
    const result = await livestep(['sync', model, '--to', server.url]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `line 1 of ${model} is not JSON; livestep sync takes a run folder`,
    );
  });

  it('gives up on a dead server after a bounded time, announcing each retry, and says how to resume', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'livestep-cli-'));
    const record = join(folder, 'run.jsonl');
    await recordRun([createJsonlSink({ path: record })], 5_000);
    await server.stop();
    const started = Date.now();
    const result = await livestep(['sync', record, '--to', server.url, '--give-up-after', '2']);
    const elapsed = Date.now() - started;
    expect(result.code).toBe(1);
    expect(elapsed).toBeLessThan(10_000);
    expect(result.stderr).toMatch(
      /cannot reach 127\.0\.0\.1:\d+ \(.*\); retrying in \d+\.\d s \(attempt 2/,
    );
    expect(result.stderr).toContain('Run the same command again once the server answers');
    expect(result.stdout).toContain('0 events stored');
  });

  it('ends promptly on Ctrl-C while waiting to retry, saying what was stored and how to go on', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'livestep-cli-'));
    const record = join(folder, 'run.jsonl');
    await recordRun([createJsonlSink({ path: record })], 5);
    // The server asks for a minute's wait: without a cancellable wait, Ctrl-C would not be heard.
    server.everyRequest = { status: 503, retryAfter: '60' };
    const sync = startNodeScript(cliPath, {
      args: ['sync', record, '--to', server.url],
      env: { LIVESTEP_URL: '' },
      timeoutMs: 30_000,
    });
    await sync.waitForOutput('retrying in');
    const interruptedAt = Date.now();
    sync.kill('SIGINT');
    const { code, stdout, stderr } = await sync.exited;
    expect(interruptedAt, stderr).toBeGreaterThan(0);
    expect(Date.now() - interruptedAt).toBeLessThan(15_000);
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/answered 503[^\n]*; retrying in \d+\.\d s/);
    expect(stderr).toContain('livestep: interrupted. 0 events were stored');
    expect(stderr).toContain('Run the same command again to go on');
    expect(stdout).toMatch(/0 events stored, [1-9]\d* failed/);
  });

  it('refuses a command that does not exist, also with --help', async () => {
    for (const args of [['nosuch'], ['nosuch', '--help']]) {
      const result = await livestep(args);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(
        'unknown command "nosuch"; the commands are serve, ls, show, sync',
      );
    }
  });

  it('prints its version', async () => {
    const result = await livestep(['--version']);
    expect(result.code).toBe(0);
    const { version } = JSON.parse(
      readFileSync(resolve(import.meta.dirname, '..', 'package.json'), 'utf8'),
    );
    expect(result.stdout.trim()).toBe(version);
  });
});

describe('livestep sync --to studio', () => {
  it('replays a run folder to DVC Studio with valid bodies, start to done', async () => {
    const { startFakeStudio } = await import('@livestep/test-support/studio');
    const studioToken = 'isat_cli_sync_token_123';
    const studio = await startFakeStudio(studioToken);
    try {
      const folder = mkdtempSync(join(tmpdir(), 'livestep-cli-'));
      const runFolder = join(folder, 'livestep');
      await recordRun([createDirectorySink({ directory: runFolder })], 30);
      // Run from the folder that holds the run, outside any repository: Studio paths start at livestep/.
      const result = await livestep(
        ['sync', 'livestep', '--to', 'studio', '--quiet'],
        {
          DVC_STUDIO_TOKEN: studioToken,
          DVC_STUDIO_URL: studio.url,
          DVC_STUDIO_REPO_URL: 'https://github.com/livestep/example.git',
          DVC_EXP_BASELINE_REV: 'c0ffee0123456789c0ffee0123456789c0ffee01',
        },
        folder,
      );
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout + result.stderr).not.toContain(studioToken);
      const types = studio.accepted().map((body) => body.type);
      expect(types[0]).toBe('start');
      expect(types.at(-1)).toBe('done');
      expect(studio.violations).toEqual([]);
      expect(studio.rows('livestep/plots/metrics/train/loss.tsv')).toHaveLength(30);
    } finally {
      await studio.stop();
    }
  });
});
