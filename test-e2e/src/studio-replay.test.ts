// DVC Studio down for a whole training: the Studio sink's warning says where the rows are and
// which command sends them, and that command (`livestep sync <run folder> --to studio`, the built
// CLI) delivers every metric row Studio missed, once Studio answers again. Real processes, a
// fake Studio on 127.0.0.1 that checks every body against the api/live schema.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runNodeScript } from '@livestep/test-support';
import { type FakeStudio, startFakeStudio } from '@livestep/test-support/studio';
import { afterAll, describe, expect, it } from 'vitest';

const TRAIN_SCRIPT = fileURLToPath(
  new URL('../../examples/custom-loop/src/train.mjs', import.meta.url),
);
const CLI = fileURLToPath(new URL('../../packages/cli/dist/cli.js', import.meta.url));
const TOKEN = 'isat_E2eReplayToken0123456789SECRET';
const EPOCHS = 30;
const METRICS = ['train/loss', 'train/accuracy', 'eval/loss', 'eval/accuracy'];
/** Every process here ends by itself well before this. */
const EXIT_DEADLINE_MS = 60_000;

const temporaryFolders: string[] = [];
afterAll(() => {
  for (const folder of temporaryFolders) rmSync(folder, { recursive: true, force: true });
});

/** Runs `node <script> ...args` with only `environment` of the livestep, DVC and Studio variables. */
function run(
  [script, ...args]: [string, ...string[]],
  cwd: string,
  environment: Record<string, string>,
) {
  return runNodeScript(script, {
    args,
    cwd,
    removeEnv: /^(LIVESTEP_|DVC_|STUDIO_|EPOCHS$)/,
    env: environment,
    timeoutMs: EXIT_DEADLINE_MS,
  });
}

function studioEnvironment(studio: FakeStudio, runFolder: string): Record<string, string> {
  return {
    DVC_STUDIO_TOKEN: TOKEN,
    DVC_STUDIO_URL: studio.url,
    DVC_STUDIO_REPO_URL: 'https://github.com/livestep/custom-loop-example.git',
    DVC_EXP_BASELINE_REV: 'c0ffee0123456789c0ffee0123456789c0ffee01',
    LIVESTEP_DIR: runFolder,
    EPOCHS: String(EPOCHS),
  };
}

describe('DVC Studio down during training, then `livestep sync --to studio`', () => {
  it('keeps what Studio did not acknowledge in the run folder and replays all of it', async () => {
    const project = mkdtempSync(join(tmpdir(), 'livestep-studio-replay-'));
    temporaryFolders.push(project);
    const runFolder = join(project, 'livestep');

    const down = await startFakeStudio(TOKEN);
    down.failNext(1_000_000, 503);
    const training = await run([TRAIN_SCRIPT], project, studioEnvironment(down, runFolder));
    await down.stop();
    expect(training.code, training.stderr).toBe(0);
    expect(down.accepted()).toHaveLength(0);
    // The warning names the folder and the exact command.
    expect(training.stderr).toContain(
      `they are not in Studio, but ${runFolder} has every one: send them with \`npx livestep sync ${runFolder} --to studio\``,
    );
    expect(training.stderr).not.toContain(TOKEN);

    const up = await startFakeStudio(TOKEN);
    try {
      const sync = await run(
        [CLI, 'sync', runFolder, '--to', 'studio'],
        project,
        studioEnvironment(up, runFolder),
      );
      expect(sync.code, sync.stderr).toBe(0);
      expect(up.violations).toEqual([]);
      const types = up.accepted().map((body) => body.type);
      expect(types[0]).toBe('start');
      expect(types.at(-1)).toBe('done');
      const runName = /Run "([^"]+)"/.exec(training.stdout)?.[1];
      expect(up.accepted('start')[0]!.name).toBe(runName);
      for (const metric of METRICS) {
        const rows = up.rows(`livestep/plots/metrics/${metric}.tsv`);
        expect(rows.map((row) => row.step)).toEqual(
          Array.from({ length: EPOCHS }, (_, step) => step),
        );
        const written = readFileSync(join(runFolder, 'plots', 'metrics', `${metric}.tsv`), 'utf8')
          .trim()
          .split('\n')
          .slice(1)
          .map((line) => Number(line.split('\t')[2]));
        const column = metric.split('/').at(-1)!;
        expect(rows.map((row) => Number(row[column]))).toEqual(written);
      }
      expect(sync.stdout + sync.stderr).not.toContain(TOKEN);
    } finally {
      await up.stop();
    }
  });
});
