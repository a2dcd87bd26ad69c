// The onnx README's "Comparing models", run exactly as written, twice, with two models: two
// complete runs, each in its own folder, which `livestep sync` (the built CLI, a real process)
// sends with their own names, experiment, status and labels. A real receiver on 127.0.0.1.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MetricEvent, StartEvent } from '@livestep/core';
import {
  type FakeLivestepServer,
  runNodeScript,
  startFakeLivestepServer,
} from '@livestep/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  readmeCodeBlock,
  runScript,
  withBuiltImports,
} from '../../packages/onnx/src/test-support/child-script.js';
import {
  COMPARISON_CLASSES,
  COMPARISON_PRELUDE,
  createComparisonProject,
} from '../../packages/onnx/src/test-support/comparison-project.js';

const CLI = fileURLToPath(new URL('../../packages/cli/dist/cli.js', import.meta.url));
const CLASSES = COMPARISON_CLASSES;

let project: string;
let receiver: FakeLivestepServer;

beforeAll(async () => {
  project = await createComparisonProject('livestep-onnx-sync-');
  receiver = await startFakeLivestepServer();
});

afterAll(async () => {
  await receiver?.stop();
  if (project) await rm(project, { recursive: true, force: true });
});

describe("the onnx README's comparison, then livestep sync", () => {
  it('sends both runs with their own names, experiment, status and labels', async () => {
    const script = withBuiltImports(
      `${COMPARISON_PRELUDE}${readmeCodeBlock('## Comparing models')}`,
    );
    await runScript(project, 'compare.mjs', script);
    await runScript(project, 'compare.mjs', script);

    const { stdout } = await runNodeScript(CLI, {
      args: [
        'sync',
        join(project, 'livestep', 'mlp'),
        join(project, 'livestep', 'weak'),
        '--to',
        receiver.url,
        '--quiet',
      ],
      timeoutMs: 60_000,
      expectSuccess: true,
    });
    expect(stdout).toContain('1 run(s) ("mlp")');
    expect(stdout).toContain('1 run(s) ("weak")');

    const events = [...receiver.events.values()];
    const starts = events.filter((event): event is StartEvent => event.kind === 'start');
    expect(starts.map((start) => [start.experiment, start.name]).sort()).toEqual([
      ['iris', 'mlp'],
      ['iris', 'weak'],
    ]);
    const done = events.filter((event) => event.kind === 'done');
    expect(done.map((event) => (event as { status: string }).status)).toEqual([
      'completed',
      'completed',
    ]);
    const f1 = events.filter(
      (event): event is MetricEvent => event.kind === 'metric' && event.name === 'eval/f1',
    );
    expect(f1.length).toBe(2 * CLASSES.length);
    expect(new Set(f1.map((event) => event.labels?.class))).toEqual(new Set(CLASSES));
    expect(events.some((event) => event.kind === 'metric' && event.name.includes('class='))).toBe(
      false,
    );
  });
});
