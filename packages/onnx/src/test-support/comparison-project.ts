/**
 * The project the onnx README's "Comparing models" runs in, for the tests that run it as written
 * (this package's, and the end-to-end one that syncs its runs): two tiny models, `iris-mlp.onnx`
 * (right on 5 of 6 flowers) and `iris-weak.onnx` (always class 0), onnxruntime-node linked in as a
 * user's project has it, and the prelude that gives the README's code its labels and batches.
 */
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onnxRuntimeEntry } from './child-script.js';
import { denseSoftmaxModel } from './onnx-model-builder.js';

export const COMPARISON_MODELS = ['mlp', 'weak'];
export const COMPARISON_CLASSES = ['setosa', 'versicolor', 'virginica'];

/** What the README's code takes as given: the class labels and a batches() generator. */
export const COMPARISON_PRELUDE = `import * as ort from 'onnxruntime-node';
const classLabels = ${JSON.stringify(COMPARISON_CLASSES)};
const rows = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1]];
const species = ['setosa', 'versicolor', 'virginica', 'setosa', 'versicolor', 'virginica'];
function* batches() {
  for (let start = 0; start < rows.length; start += 2) {
    const part = rows.slice(start, start + 2);
    yield {
      feeds: { features: new ort.Tensor('float32', Float32Array.from(part.flat()), [part.length, 4]) },
      targets: species.slice(start, start + 2),
    };
  }
}
`;

/** A fresh temporary project folder with `models/` and `node_modules/onnxruntime-node`. */
export async function createComparisonProject(prefix: string): Promise<string> {
  const project = await mkdtemp(join(tmpdir(), prefix));
  await mkdir(join(project, 'models'));
  // mlp: feature i scores class i; weak: every flower scores class 0 highest.
  const identity = [
    [4, 0, 0],
    [0, 4, 0],
    [0, 0, 4],
    [4, 0, 0],
  ];
  await writeFile(join(project, 'models', 'iris-mlp.onnx'), denseSoftmaxModel(identity, [0, 0, 0]));
  await writeFile(
    join(project, 'models', 'iris-weak.onnx'),
    denseSoftmaxModel(
      identity.map(() => [0, 0, 0]),
      [1, 0, 0],
    ),
  );
  await mkdir(join(project, 'node_modules'));
  await symlink(onnxRuntimeEntry, join(project, 'node_modules', 'onnxruntime-node'));
  return project;
}
