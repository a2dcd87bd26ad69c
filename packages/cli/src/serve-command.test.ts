/** `livestep serve`, `ls` and `show` as real commands (child processes) against each other. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHttpSink, Run } from '@livestep/core';
import { describe, expect, it } from 'vitest';
import { runLivestep as livestep, startServe } from './test-support/livestep-cli.js';

async function streamRun(url: string, token?: string) {
  const run = new Run({
    experiment: 'iris',
    name: 'cli-run',
    sinks: [
      createHttpSink({
        url,
        ...(token && { token }),
        spoolDirectory: mkdtempSync(join(tmpdir(), 'livestep-spool-')),
        onWarning() {},
      }),
    ],
    exitHooks: false,
    collectGit: false,
  });
  run.logParams({ lr: 0.02 });
  for (let step = 0; step < 100; step++) {
    run.logMetric('train/loss', 1 / (step + 1));
    run.logMetric('eval/acc', step / 100);
    run.nextStep();
  }
  const report = await run.end();
  expect(report.ok).toBe(true);
  return run;
}

describe('livestep serve, ls, show', () => {
  it('serves a data folder, lists and shows its runs, and stops cleanly on SIGTERM keeping them', async () => {
    const data = mkdtempSync(join(tmpdir(), 'livestep-serve-'));
    const server = startServe(['--data', data]);
    const url = await server.url;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.output()).toContain(`data: ${data}`);
    const run = await streamRun(url);

    const table = await livestep(['ls'], { LIVESTEP_URL: url });
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(
      /id\s+experiment\s+name\s+state\s+started\s+eval\/acc\s+train\/loss/,
    );
    expect(table.stdout).toMatch(
      new RegExp(`${run.id.slice(0, 8)}\\s+iris\\s+cli-run\\s+completed`),
    );
    expect(table.stdout).toContain('0.99');
    const json = await livestep(['ls', '--json', '--url', url, '--filter', 'eval/acc >= 0.5']);
    expect(JSON.parse(json.stdout).runs.map((item: { id: string }) => item.id)).toEqual([run.id]);
    const none = await livestep(['ls', '--url', url, '--filter', 'eval/acc > 2']);
    expect(none.stdout).toContain('no runs on');

    const shown = await livestep(['show', 'cli-run', '--url', url]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain(`run        ${run.id}`);
    expect(shown.stdout).toContain('params     {"lr":0.02}');
    expect(shown.stdout).toMatch(/train\/loss\s+0\.01\s+99\s+0\.01\s+1\s+100/);
    const shownJson = await livestep(['show', run.id.slice(0, 8), '--json', '--url', url]);
    expect(JSON.parse(shownJson.stdout)).toMatchObject({ id: run.id, state: 'completed' });
    const missing = await livestep(['show', 'nope', '--url', url]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no run named or starting with "nope"');

    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(server.output()).toContain('stopped');

    const again = startServe(['--data', data]);
    const secondUrl = await again.url;
    const kept = await livestep(['ls', '--json', '--url', secondUrl]);
    expect(JSON.parse(kept.stdout).runs).toHaveLength(1);
    again.child.kill('SIGINT');
    expect(await again.exited).toBe(0);
  });

  it('needs a token to listen off loopback, and then asks it of every client', async () => {
    const refused = await livestep([
      'serve',
      '--port',
      '0',
      '--host',
      '0.0.0.0',
      '--data',
      mkdtempSync(join(tmpdir(), 'livestep-serve-')),
    ]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('refusing to listen on 0.0.0.0 without a token');

    const token = 'lst_cli_serve_token_31';
    const server = startServe(['--data', mkdtempSync(join(tmpdir(), 'livestep-serve-'))], {
      LIVESTEP_SERVER_TOKEN: token,
    });
    const url = await server.url;
    expect(server.output()).not.toContain(token);
    await streamRun(url, token);
    const denied = await livestep(['ls', '--url', url]);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('refused the token; set LIVESTEP_TOKEN');
    const allowed = await livestep(['ls', '--url', url], { LIVESTEP_TOKEN: token });
    expect(allowed.code).toBe(0);
    expect(allowed.stdout).toContain('cli-run');
  });

  it('refuses liveness flags that are not seconds, or an interrupted timeout not past the stale one', async () => {
    const data = mkdtempSync(join(tmpdir(), 'livestep-serve-'));
    const serveWith = (...flags: string[]) =>
      livestep(['serve', '--port', '0', '--data', data, ...flags]);
    const notSeconds = await serveWith('--stale-after', '2m');
    expect(notSeconds.code).toBe(2);
    expect(notSeconds.stderr).toContain(
      '--stale-after takes seconds, above 0 and at most a week (604800), e.g. --stale-after 30; got "2m"',
    );
    const zero = await serveWith('--interrupted-after', '0');
    expect(zero.code).toBe(2);
    expect(zero.stderr).toContain('--interrupted-after takes seconds');
    const backwards = await serveWith('--stale-after', '60', '--interrupted-after', '30');
    expect(backwards.code).toBe(2);
    expect(backwards.stderr).toContain(
      '--interrupted-after (30 s) must be longer than --stale-after (60 s)',
    );
    // Past the default interrupted timeout (an hour) with only --stale-after: refused too.
    const pastDefault = await serveWith('--stale-after', '7200');
    expect(pastDefault.code).toBe(2);
    expect(pastDefault.stderr).toContain('must be longer than --stale-after (7200 s)');
  });

  it('says what to do when no server answers', async () => {
    const result = await livestep(['ls', '--url', 'http://127.0.0.1:9']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('cannot reach the server at http://127.0.0.1:9');
    expect(result.stderr).toContain('livestep serve');
  });
});
