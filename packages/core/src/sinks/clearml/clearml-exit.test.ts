/**
 * The ClearML sink in real child processes that end the way training scripts end: Ctrl-C (SIGINT)
 * ends the ClearML task stopped, an uncaught exception failed (with the error as the status
 * message and a log line), each with every point the run logged (as its JSONL journal has them)
 * in ClearML once. The child reads CLEARML_* from its environment.
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
import { type FakeClearml, startFakeClearml } from '@livestep/test-support/clearml';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

const builtPackage = builtEntry('@livestep/core', import.meta.url);
const SECRET = 'clearml-exit-SECRET-key-0123456789';

let clearml: FakeClearml;

beforeAll(() => assertBuilt(builtPackage));

beforeEach(async () => {
  clearml = await startFakeClearml({ accessKey: 'exit-access', secretKey: SECRET });
});

afterEach(async () => {
  await clearml.close();
});

async function runScenario(
  body: string,
  signal?: NodeJS.Signals,
): Promise<NodeScriptOutcome & { metrics: Array<{ name: string; value: number; step: number }> }> {
  const { folder, path } = writeScript(
    (
      folder,
    ) => `import { startRun, createJsonlSink, createClearmlSink } from ${importUrl(builtPackage)};
const journal = createJsonlSink({ path: ${JSON.stringify(join(folder, 'run.jsonl'))} });
const run = startRun({ sinks: [journal, createClearmlSink({ postIntervalMs: 0 })], collectGit: false, experiment: 'exit', name: 'child' });
${body}
`,
    { prefix: 'clearml-exit' },
  );
  const outcome = await runNodeScript(path, {
    removeEnv: /^(LIVESTEP_|CLEARML_|TRAINS_)/,
    env: {
      CLEARML_API_HOST: clearml.url,
      CLEARML_API_ACCESS_KEY: 'exit-access',
      CLEARML_API_SECRET_KEY: SECRET,
    },
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
  expect(clearml.violations).toEqual([]);
  const task = clearml.onlyTask();
  expect(metrics.length).toBeGreaterThan(0);
  // Each name is its own metric and variant (no `/`): `loss` → loss, loss.
  expect(
    clearml
      .scalarArrivals(task.id)
      .map(({ metric, value, iter }) => ({ name: metric, value, step: iter })),
  ).toEqual(metrics);
}

describe('the ClearML sink as a script ends', () => {
  it('ends the ClearML task stopped on Ctrl-C, with every point', async () => {
    const outcome = await runScenario(
      `let step = 0;
setInterval(() => { run.logMetric('loss', 1 / ++step); run.nextStep(); }, 2);
await run.flush();
console.log('ready');`,
      'SIGINT',
    );
    expect(outcome.signal).toBe('SIGINT');
    expect(clearml.onlyTask().status).toBe('stopped');
    expectEveryPoint(outcome.metrics);
  });

  it('ends the ClearML task failed on an uncaught exception, with every point', async () => {
    const outcome = await runScenario(
      `run.logMetric('loss', 0.5);
run.nextStep();
run.logMetric('loss', 0.25);
setTimeout(() => { throw new Error('the model diverged'); }, 10);`,
    );
    expect(outcome.code).toBe(1);
    const task = clearml.onlyTask();
    expect(task).toMatchObject({ status: 'failed', status_message: 'Error: the model diverged' });
    expect(clearml.logs(task.id)[0]?.msg).toMatch(/^Error: the model diverged/);
    expectEveryPoint(outcome.metrics);
    expect(outcome.stderr).not.toContain(SECRET);
  });
});
