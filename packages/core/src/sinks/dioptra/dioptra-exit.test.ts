/**
 * The Dioptra sink in real child processes that end the way training scripts end: Ctrl-C (SIGINT)
 * and an uncaught exception, each with every point the run logged (as its JSONL journal has
 * them) in Dioptra once, in order. The child reads DIOPTRA_* from its environment and logs in.
 */
import { join } from 'node:path';
import {
  assertBuilt,
  builtEntry,
  importUrl,
  type NodeScriptOutcome,
  readJournal,
  runNodeScript,
  writeScript,
} from '@livestep/test-support';
import { type FakeDioptra, startFakeDioptra } from '@livestep/test-support/dioptra';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { encodeDioptraName } from './dioptra-names.js';

const builtPackage = builtEntry('@livestep/core', import.meta.url);
const PASSWORD = 'dioptra-exit-SECRET-password';
const JOB = 3;

let dioptra: FakeDioptra;

beforeAll(() => assertBuilt(builtPackage));

beforeEach(async () => {
  dioptra = await startFakeDioptra({ users: { worker: PASSWORD }, jobs: [JOB] });
});

afterEach(async () => {
  await dioptra.close();
});

async function runScenario(
  body: string,
  signal?: NodeJS.Signals,
): Promise<NodeScriptOutcome & { metrics: Array<{ name: string; value: number; step: number }> }> {
  const { folder, path } = writeScript(
    (
      folder,
    ) => `import { startRun, createJsonlSink, createDioptraSink } from ${importUrl(builtPackage)};
const journal = createJsonlSink({ path: ${JSON.stringify(join(folder, 'run.jsonl'))} });
const run = startRun({ sinks: [journal, createDioptraSink()], collectGit: false, experiment: 'exit', name: 'child' });
${body}
`,
    { prefix: 'dioptra-exit' },
  );
  const outcome = await runNodeScript(path, {
    removeEnv: /^(LIVESTEP_|DIOPTRA_|MLFLOW_)/,
    env: {
      DIOPTRA_API: dioptra.url,
      DIOPTRA_JOB_ID: String(JOB),
      DIOPTRA_USERNAME: 'worker',
      DIOPTRA_PASSWORD: PASSWORD,
    },
    ...(signal && { signal: { signal, whenStdoutHas: 'ready' } }),
  });
  const events = readJournal(join(folder, 'run.jsonl')) as unknown as Array<
    Record<string, unknown>
  >;
  const metrics = events
    .filter((event) => event.kind === 'metric')
    .map((event) => ({
      name: encodeDioptraName(String(event.name)),
      value: Number(event.value),
      step: Number(event.step),
    }));
  return { ...outcome, metrics };
}

function expectEveryPoint(metrics: Array<{ name: string; value: number; step: number }>): void {
  expect(dioptra.violations).toEqual([]);
  expect(metrics.length).toBeGreaterThan(0);
  expect(dioptra.points(JOB).map(({ name, value, step }) => ({ name, value, step }))).toEqual(
    metrics,
  );
}

describe('the Dioptra sink as a script ends', () => {
  it('delivers every point on Ctrl-C', async () => {
    const outcome = await runScenario(
      `let step = 0;
setInterval(() => { run.logMetric('train/loss', 1 / ++step); run.nextStep(); }, 2);
await run.flush();
console.log('ready');`,
      'SIGINT',
    );
    expect(outcome.signal).toBe('SIGINT');
    expectEveryPoint(outcome.metrics);
    expect(dioptra.logins).toEqual(['worker']);
  });

  it('delivers every point on an uncaught exception, never showing the password', async () => {
    const outcome = await runScenario(
      `run.logMetric('train/loss', 0.5);
run.nextStep();
run.logMetric('train/loss', 0.25);
setTimeout(() => { throw new Error('the model diverged'); }, 10);`,
    );
    expect(outcome.code).toBe(1);
    expectEveryPoint(outcome.metrics);
    expect(outcome.stderr).not.toContain(PASSWORD);
  });
});
