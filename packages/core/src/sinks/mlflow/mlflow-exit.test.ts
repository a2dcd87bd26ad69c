/**
 * The MLflow sink in real child processes that end the way training scripts end: Ctrl-C (SIGINT)
 * ends the MLflow run KILLED, an uncaught exception FAILED, each with every point the run logged
 * (as its JSONL journal has them) in MLflow once. The child reads MLFLOW_* from its environment.
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
import { type FakeMlflow, startFakeMlflow } from '@livestep/test-support/mlflow';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

const builtPackage = builtEntry('@livestep/core', import.meta.url);
const TOKEN = 'mlflow-exit-SECRET-token';

let mlflow: FakeMlflow;

beforeAll(() => assertBuilt(builtPackage));

beforeEach(async () => {
  mlflow = await startFakeMlflow({ authorization: `Bearer ${TOKEN}` });
});

afterEach(async () => {
  await mlflow.close();
});

async function runScenario(
  body: string,
  signal?: NodeJS.Signals,
): Promise<NodeScriptOutcome & { metrics: Array<{ name: string; value: number; step: number }> }> {
  const { folder, path } = writeScript(
    (
      folder,
    ) => `import { startRun, createJsonlSink, createMlflowSink } from ${importUrl(builtPackage)};
const journal = createJsonlSink({ path: ${JSON.stringify(join(folder, 'run.jsonl'))} });
const run = startRun({ sinks: [journal, createMlflowSink()], collectGit: false, experiment: 'exit', name: 'child' });
${body}
`,
    { prefix: 'mlflow-exit' },
  );
  const outcome = await runNodeScript(path, {
    removeEnv: /^(LIVESTEP_|MLFLOW_)/,
    env: { MLFLOW_TRACKING_URI: mlflow.url, MLFLOW_TRACKING_TOKEN: TOKEN },
    ...(signal && { signal: { signal, whenStdoutHas: 'ready' } }),
  });
  const events = readJournal(join(folder, 'run.jsonl')) as unknown as Array<
    Record<string, unknown>
  >;
  const metrics = events
    .filter((event) => event.kind === 'metric')
    .map((event) => ({
      name: String(event.name),
      value: Number(event.value),
      step: Number(event.step),
    }));
  return { ...outcome, metrics };
}

function expectEveryPoint(metrics: Array<{ name: string; value: number; step: number }>): void {
  expect(mlflow.violations).toEqual([]);
  const run = mlflow.onlyRun();
  expect(metrics.length).toBeGreaterThan(0);
  expect(run.metrics.map(({ key, value, step }) => ({ name: key, value, step }))).toEqual(metrics);
}

describe('the MLflow sink as a script ends', () => {
  it('ends the MLflow run KILLED on Ctrl-C, with every point', async () => {
    const outcome = await runScenario(
      `let step = 0;
setInterval(() => { run.logMetric('loss', 1 / ++step); run.nextStep(); }, 2);
await run.flush();
console.log('ready');`,
      'SIGINT',
    );
    expect(outcome.signal).toBe('SIGINT');
    expect(mlflow.onlyRun().status).toBe('KILLED');
    expectEveryPoint(outcome.metrics);
  });

  it('ends the MLflow run FAILED on an uncaught exception, with every point', async () => {
    const outcome = await runScenario(
      `run.logMetric('loss', 0.5);
run.nextStep();
run.logMetric('loss', 0.25);
setTimeout(() => { throw new Error('the model diverged'); }, 10);`,
    );
    expect(outcome.code).toBe(1);
    const stored = mlflow.onlyRun();
    expect(stored.status).toBe('FAILED');
    expect(stored.tags.get('livestep.error')).toBe('Error: the model diverged');
    expectEveryPoint(outcome.metrics);
    expect(outcome.stderr).not.toContain(TOKEN);
  });
});
