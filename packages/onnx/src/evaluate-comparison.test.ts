// The README's "Comparing models", run as written in a fresh project folder: a real Node process
// with the built package, onnxruntime-node and core's default sinks (no sinks, no directory).
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseJsonl } from '@livestep/core/protocol';
import { readRunIdentity } from '@livestep/core/sink-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertBuilt,
  readmeCodeBlock,
  runScript,
  withBuiltImports,
} from './test-support/child-script.js';
import {
  COMPARISON_MODELS,
  COMPARISON_PRELUDE,
  createComparisonProject,
} from './test-support/comparison-project.js';

const MODELS = COMPARISON_MODELS;

let project: string;

beforeAll(async () => {
  assertBuilt();
  project = await createComparisonProject('livestep-onnx-compare-');
});

afterAll(async () => {
  if (project) await rm(project, { recursive: true, force: true });
});

/** The README's comparison, verbatim, after the prelude (imports not yet pointed at the builds). */
function comparisonScript(): string {
  return `${COMPARISON_PRELUDE}${readmeCodeBlock('## Comparing models')}`;
}

async function expectTwoCompleteRuns(): Promise<void> {
  const accuracies: number[] = [];
  for (const name of MODELS) {
    const folder = join(project, 'livestep', name);
    const identity = readRunIdentity(folder);
    expect(identity).toMatchObject({
      run: { experiment: 'iris', name },
      status: 'completed',
    });
    expect(identity!.series['eval/f1/class=setosa']).toEqual({
      name: 'eval/f1',
      labels: { class: 'setosa' },
    });
    const metrics = JSON.parse(await readFile(join(folder, 'metrics.json'), 'utf8'));
    expect(metrics.eval.samples).toBe(6);
    accuracies.push(metrics.eval.accuracy);
    const params = await readFile(join(folder, 'params.yaml'), 'utf8');
    expect(params).toContain(`fileName: iris-${name}.onnx`);
    const roc = JSON.parse(
      await readFile(join(folder, 'plots', 'sklearn', 'eval', 'roc', 'class=setosa.json'), 'utf8'),
    );
    expect(roc.roc[0]).toEqual({ fpr: 0, tpr: 0, threshold: 'inf' });
  }
  expect(accuracies).toEqual([5 / 6, 2 / 6]);
  // One dvc.yaml beside the run folders, listing each run once.
  const dvcYaml = await readFile(join(project, 'livestep', 'dvc.yaml'), 'utf8');
  for (const name of MODELS) {
    expect(dvcYaml.split(`- ${name}/metrics.json`)).toHaveLength(2);
    expect(dvcYaml.split(`- ${name}/params.yaml`)).toHaveLength(2);
  }
}

describe("the README's comparison of two models", () => {
  it('run twice as written, leaves two complete runs in their own folders', async () => {
    const first = await runScript(project, 'compare.mjs', withBuiltImports(comparisonScript()));
    expect(first.stdout).toContain(join(project, 'livestep', 'mlp'));
    expect(first.stdout).toContain(join(project, 'livestep', 'weak'));
    await expectTwoCompleteRuns();
    const firstIds = MODELS.map((name) => readRunIdentity(join(project, 'livestep', name))!.run.id);

    await runScript(project, 'compare.mjs', withBuiltImports(comparisonScript()));
    await expectTwoCompleteRuns();
    const secondIds = MODELS.map(
      (name) => readRunIdentity(join(project, 'livestep', name))!.run.id,
    );
    // The same names again: each folder holds the newer run of its name.
    for (const [index, id] of secondIds.entries()) expect(id).not.toBe(firstIds[index]);
  });

  it('LIVESTEP_DIR holds the run folders, and a directory of your own wins', async () => {
    await runScript(project, 'compare.mjs', withBuiltImports(comparisonScript()), {
      LIVESTEP_DIR: 'elsewhere',
    });
    for (const name of MODELS) {
      expect(readRunIdentity(join(project, 'elsewhere', name))?.run.name).toBe(name);
    }
    const own = comparisonScript().replace(
      "run: { experiment: 'iris', name }",
      "run: { experiment: 'iris', name, directory: 'mine-' + name }",
    );
    await runScript(project, 'own.mjs', withBuiltImports(own));
    for (const name of MODELS) {
      expect(readRunIdentity(join(project, `mine-${name}`))?.run.name).toBe(name);
    }
  });

  it('with a JSONL sink, appends both runs to one file, each with its own identity', async () => {
    const jsonl =
      `import { createJsonlSink } from '@livestep/core';\n${comparisonScript()}`.replace(
        "run: { experiment: 'iris', name }",
        "run: { experiment: 'iris', name, sinks: [createJsonlSink({ path: 'runs.jsonl' })] }",
      );
    await runScript(project, 'jsonl.mjs', withBuiltImports(jsonl));
    const runs = parseJsonl(await readFile(join(project, 'runs.jsonl'), 'utf8'));
    expect(runs.map((record) => [record.run.experiment, record.run.name])).toEqual([
      ['iris', 'mlp'],
      ['iris', 'weak'],
    ]);
    for (const record of runs) {
      expect(record.events.at(-1)).toMatchObject({ kind: 'done', status: 'completed' });
    }
  });
});
