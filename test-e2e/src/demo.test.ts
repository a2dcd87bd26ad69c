// `npm run demo`'s script as a user runs it (scripts/demo.mjs, after the build): a real livestep
// server, the tfjs example as a real process streaming to it, the final metrics read back from
// the query API and equal to the run folder's; then the server keeps serving until Ctrl-C.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNodeScript } from '@livestep/test-support';
import { afterAll, describe, expect, it } from 'vitest';

const DEMO = fileURLToPath(new URL('../../scripts/demo.mjs', import.meta.url));
const EPOCHS = 6;
/** The demo trains in seconds; a process alive after this has hung. */
const DEADLINE_MS = 120_000;

const folders: string[] = [];
afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

function startDemo(environment: Record<string, string>) {
  const folder = mkdtempSync(join(tmpdir(), 'livestep-demo-'));
  folders.push(folder);
  const demo = startNodeScript(DEMO, {
    removeEnv: /^(LIVESTEP_|DVC_|STUDIO_)/,
    env: {
      EPOCHS: String(EPOCHS),
      LIVESTEP_DIR: join(folder, 'livestep'),
      LIVESTEP_MODEL_PATH: join(folder, 'model.json'),
      LIVESTEP_SERVER_DATA: join(folder, 'server'),
      ...environment,
    },
    timeoutMs: DEADLINE_MS,
  });
  const exited = demo.exited.then((outcome) => outcome.code);
  return { child: demo.child, output: demo.output, exited, folder };
}

describe('the demo (scripts/demo.mjs)', () => {
  it('trains into a live server and prints the final metrics the query API returns', async () => {
    const demo = startDemo({ LIVESTEP_DEMO_EXIT: '1' });
    expect(await demo.exited, demo.output()).toBe(0);
    const output = demo.output();
    const url = /livestep server at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
    expect(url, output).toBeDefined();
    expect(output).toMatch(new RegExp(`Read back from ${url}: run "[^"]+" \\(completed\\)`));
    const summary = JSON.parse(readFileSync(join(demo.folder, 'livestep', 'metrics.json'), 'utf8'));
    for (const [name, value] of [
      ['train/loss', summary.train.loss],
      ['train/acc', summary.train.acc],
      ['eval/loss', summary.eval.loss],
      ['eval/acc', summary.eval.acc],
    ] as const) {
      expect(output).toContain(`  ${name.padEnd(11)} ${value.toFixed(4)}  (step ${EPOCHS - 1})`);
    }
  });

  it('keeps serving after training until Ctrl-C', async () => {
    const demo = startDemo({});
    const deadline = Date.now() + DEADLINE_MS;
    while (!demo.output().includes('Ctrl-C stops it')) {
      if (Date.now() > deadline || demo.child.exitCode !== null) throw new Error(demo.output());
      await new Promise((done) => setTimeout(done, 50));
    }
    const url = /livestep server at (http:\/\/127\.0\.0\.1:\d+)/.exec(demo.output())![1]!;
    const runs = (await (await fetch(`${url}/api/v1/runs`)).json()) as { runs: unknown[] };
    expect(runs.runs).toHaveLength(1);
    demo.child.kill('SIGINT');
    expect(await demo.exited).toBe(0);
  });
});
