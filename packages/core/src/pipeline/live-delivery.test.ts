/**
 * Live delivery, tested as a user sees it: real child processes log while the test reads their
 * files from outside, and `kill -9` lands in the middle of heavy logging.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  assertBuilt,
  builtEntry,
  importUrl,
  type NodeScript,
  startNodeScript,
  writeScript,
} from '@livestep/test-support';
import { beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { readSavedRun } from '../dvclive/saved-run.js';
import { yieldToEventLoop } from '../process/yield-to-event-loop.js';
import { parseJsonl } from '../protocol/jsonl-record.js';

const builtPackage = builtEntry('@livestep/core', import.meta.url);
/** kill -9 trials: the review saw a 0-byte metrics.json in about 1 of 50. */
const KILL_TRIALS = 50;

/** Starts `body` as an ES module with core imported and `folder` (a fresh temp folder) defined. */
function startChild(body: string): NodeScript & { folder: string } {
  const { folder, path } = writeScript(
    (folder) => `import * as core from ${importUrl(builtPackage)};
const folder = ${JSON.stringify(folder)};
${body}
`,
    { prefix: 'live' },
  );
  return { ...startNodeScript(path), folder };
}

const sleep = (ms: number) => new Promise((resolvePromise) => setTimeout(resolvePromise, ms));

function lineCount(path: string): number {
  if (!existsSync(path)) return 0;
  return readFileSync(path, 'utf8').split('\n').length - 1;
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the child');
    await sleep(10);
  }
}

beforeAll(() => assertBuilt(builtPackage));

describe('live delivery (real child processes)', () => {
  it('a loop that never yields still gets its points into the directory and JSONL files within a second', async () => {
    // A synchronous loop: no await, no timer can fire in it. It logs one point a millisecond and
    // says how far it got in a side file (written synchronously, which does not yield either).
    const child = startChild(`
import { writeFileSync } from 'node:fs';
const run = core.startRun({
  experiment: 'live', name: 'busy', exitHooks: false, collectGit: false,
  sinks: [
    core.createDirectorySink({ directory: folder + '/run' }),
    core.createJsonlSink({ path: folder + '/run.jsonl' }),
  ],
});
const until = Date.now() + 6000;
let step = 0;
while (Date.now() < until) {
  const tick = Date.now();
  while (Date.now() === tick) {}
  run.logMetric('train/loss', 1 / (step + 1), { step: step++ });
  if (step % 50 === 0) writeFileSync(folder + '/progress', String(step));
}
process.stdout.write('loop over ' + step + '\\n');
`);
    const tsv = join(child.folder, 'run', 'plots', 'metrics', 'train', 'loss.tsv');
    const jsonl = join(child.folder, 'run.jsonl');
    const progress = () => {
      const path = join(child.folder, 'progress');
      return existsSync(path) ? Number(readFileSync(path, 'utf8')) : 0;
    };
    await waitFor(() => lineCount(tsv) > 0, 5_000);
    const seen: Array<{ logged: number; tsv: number; jsonl: number; running: boolean }> = [];
    for (let second = 0; second < 3; second++) {
      await sleep(1_000);
      const logged = progress();
      seen.push({
        logged,
        // Rows without the TSV's header; lines without the record's header and start event.
        tsv: lineCount(tsv) - 1,
        jsonl: lineCount(jsonl) - 2,
        running: child.child.exitCode === null && !child.stdout().includes('loop over'),
      });
    }
    child.kill('SIGKILL');
    await child.exited;
    const shown = JSON.stringify(seen);
    expect(
      seen.every((sample) => sample.running),
      shown,
    ).toBe(true);
    for (let index = 1; index < seen.length; index++) {
      const [before, after] = [seen[index - 1]!, seen[index]!];
      // More every second, and everything logged a second ago is on disk now.
      expect(after.tsv, shown).toBeGreaterThan(before.tsv);
      expect(after.tsv, shown).toBeGreaterThanOrEqual(before.logged);
      expect(after.jsonl, shown).toBeGreaterThanOrEqual(before.logged);
    }
  });

  it(`kill -9 during heavy logging leaves metrics.json, params.yaml, every TSV and the JSONL parseable (${KILL_TRIALS} times)`, async () => {
    const body = `
const run = core.startRun({
  experiment: 'live', name: 'killed', exitHooks: false, collectGit: false,
  maxBatchEvents: 200, flushIntervalMs: 5,
  sinks: [
    core.createDirectorySink({ directory: folder + '/run' }),
    core.createJsonlSink({ path: folder + '/run.jsonl' }),
  ],
});
process.stdout.write('ready\\n');
for (let step = 0; ; step++) {
  run.logMetrics({ 'train/loss': Math.random(), 'train/acc': Math.random(), 'eval/loss': NaN });
  run.logMetric('eval/f1', Math.random(), { labels: { class: 'c' + (step % 3) } });
  if (step % 50 === 0) run.logParams({ step, nested: { at: step, list: [step, step + 1] } });
  if (step % 200 === 0) run.logPlot('scores', { kind: 'line', rows: [{ x: step, y: 1 }, { x: step + 1, y: 2 }] });
  run.nextStep();
  if (step % 20 === 0) await new Promise((resolve) => setImmediate(resolve));
}
`;
    const problems: string[] = [];
    for (let trial = 0; trial < KILL_TRIALS; trial++) {
      const child = startChild(body);
      // Killed while it logs: after its first batch is on disk, at a different moment each time.
      await waitFor(
        () =>
          existsSync(join(child.folder, 'run', 'params.yaml')) &&
          existsSync(join(child.folder, 'run.jsonl')),
        10_000,
      );
      await sleep((trial * 37) % 200);
      child.kill('SIGKILL');
      await child.exited;
      const folder = join(child.folder, 'run');
      const check = (what: string, parse: () => void) => {
        try {
          parse();
        } catch (error) {
          problems.push(`trial ${trial}: ${what}: ${(error as Error).message}`);
        }
      };
      check('metrics.json', () => {
        const summary = JSON.parse(readFileSync(join(folder, 'metrics.json'), 'utf8'));
        if (typeof summary.step !== 'number') throw new Error('no step');
      });
      check('params.yaml', () => {
        const params = YAML.parse(readFileSync(join(folder, 'params.yaml'), 'utf8'));
        if (typeof params?.step !== 'number') throw new Error('no step param');
      });
      const tsvFolder = join(folder, 'plots', 'metrics');
      const tsvs = readdirSync(tsvFolder, { recursive: true, encoding: 'utf8' }).filter((name) =>
        name.endsWith('.tsv'),
      );
      if (tsvs.length < 4) problems.push(`trial ${trial}: only ${tsvs.length} TSVs`);
      for (const name of tsvs) {
        check(name, () => {
          // A kill can cut the last write short (Linux stops a large write at a fatal signal):
          // readers skip that unfinished last row, and resume cuts it off. Every other row is whole.
          const text = readFileSync(join(tsvFolder, name), 'utf8');
          if (!text.includes('\n')) return;
          const [header, ...rows] = text.slice(0, text.lastIndexOf('\n')).split('\n');
          if (!header!.startsWith('timestamp\tstep\t')) throw new Error(`header ${header}`);
          for (const row of rows) {
            const cells = row.split('\t');
            if (cells.length !== 3 || !/^\d+$/.test(cells[1]!) || cells[2] === '') {
              throw new Error(`row ${JSON.stringify(row)}`);
            }
          }
        });
      }
      check('resuming the folder', () => {
        const saved = readSavedRun(folder);
        if (saved.step === undefined) throw new Error('no step to resume from');
      });
      check('run.jsonl', () => {
        // As for the TSVs, an unfinished last line is skipped (and reported) by the reader.
        const runs = parseJsonl(readFileSync(join(child.folder, 'run.jsonl'), 'utf8'));
        if (runs.length !== 1 || runs[0]!.events.length === 0) throw new Error('no events');
      });
    }
    expect(problems.join('\n')).toBe('');
  }, 120_000);
});

describe('yieldToEventLoop', () => {
  it('lets timers fire in a loop that only awaits settled promises', async () => {
    let ticks = 0;
    const interval = setInterval(() => ticks++, 20);
    const until = performance.now() + 500;
    let yields = 0;
    while (performance.now() < until) {
      await Promise.resolve();
      const turn = yieldToEventLoop();
      if (turn !== yieldToEventLoop()) yields++;
      await turn;
    }
    clearInterval(interval);
    // A turn every 50 ms at most: about 10 in 500 ms, and the 20 ms timer fired in them.
    expect(yields).toBeGreaterThanOrEqual(5);
    expect(yields).toBeLessThanOrEqual(12);
    expect(ticks).toBeGreaterThanOrEqual(4);
  });

  it('without it, the same loop starves the timer (what the adapters protect against)', async () => {
    let ticks = 0;
    const interval = setInterval(() => ticks++, 20);
    const until = performance.now() + 300;
    while (performance.now() < until) await Promise.resolve();
    clearInterval(interval);
    expect(ticks).toBe(0);
  });
});
