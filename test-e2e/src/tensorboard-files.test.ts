// examples/tfjs-fit run as a user runs it (`node src/main.mjs`, a real tfjs fit through the
// @livestep/tfjs callback), with LIVESTEP_TENSORBOARD_DIR set and no code change: on the cpu and
// the wasm backend (tfjs-node's own TensorBoard callback works on neither), the event files are
// read back while it trains (they grow between epochs) and after it ends, by the independent
// reader in support/tensorboard-event-reader.ts (TFRecord framing and both CRCs checked, protobuf decoded by hand), and
// every epoch's values equal what the directory sink wrote. TensorBoard itself (Python) cannot
// be installed here; that reader stands in for it. The loop and onnx adapters write through the
// same sink: examples/custom-loop and examples/onnx-eval (two runs, `{run}` in the path) too.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ReadEvent, readLogDirectory, scalarsOf } from './support/tensorboard-event-reader.js';

const exampleFolder = fileURLToPath(new URL('../../examples/tfjs-fit/', import.meta.url));
/** Bounds the whole fit; an Iris fit takes seconds even on a slow, shared machine. */
const EXAMPLE_TIMEOUT_MS = 90_000;
/** How often the files are looked at while the fit runs. */
const POLL_MS = 25;
const EPOCHS = 40;

let folder: string;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'livestep-tensorboard-e2e-'));
});
afterAll(async () => {
  if (folder) await rm(folder, { recursive: true, force: true });
});

interface FitOutcome {
  code: number | null;
  stderr: string;
  /** Train losses seen in the files while the process was still running, per look. */
  seenWhileRunning: number[];
}

/** The train folder's losses, or none when the files are not there yet. */
function trainLosses(logdir: string): number {
  try {
    const train = readLogDirectory(logdir).get('train');
    return scalarsOf(train?.events ?? []).get('loss')?.length ?? 0;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
}

/** Runs the example and looks at the event files until it exits (bounded). */
async function fit(
  backend: 'cpu' | 'wasm',
  logdir: string,
  runFolder: string,
): Promise<FitOutcome> {
  const child: ChildProcess = spawn(process.execPath, ['src/main.mjs'], {
    cwd: exampleFolder,
    env: {
      ...process.env,
      TFJS_BACKEND: backend,
      EPOCHS: String(EPOCHS),
      LIVESTEP_DIR: runFolder,
      LIVESTEP_MODEL_PATH: join(folder, `model-${backend}`, 'iris.json'),
      LIVESTEP_TENSORBOARD_DIR: logdir,
      LIVESTEP_URL: '',
      DVC_STUDIO_TOKEN: '',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let done = false;
  void exited.then(() => {
    done = true;
  });
  const seenWhileRunning: number[] = [];
  const deadline = Date.now() + EXAMPLE_TIMEOUT_MS;
  try {
    while (!done && Date.now() < deadline) {
      const seen = trainLosses(logdir);
      if (!done && child.exitCode === null) seenWhileRunning.push(seen);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  } finally {
    if (!done) child.kill('SIGKILL');
  }
  return { code: await exited, stderr, seenWhileRunning };
}

/** A directory-sink TSV's value column, as numbers (`nan`, `inf` as such). */
async function tsvValues(path: string): Promise<{ steps: number[]; values: number[] }> {
  const [, ...lines] = (await readFile(path, 'utf8')).trim().split('\n');
  const cells = lines.map((line) => line.split('\t'));
  const special: Record<string, number> = { nan: Number.NaN, inf: Infinity, '-inf': -Infinity };
  const number = (cell: string) => special[cell] ?? Number(cell);
  return { steps: cells.map((row) => Number(row[1])), values: cells.map((row) => number(row[2]!)) };
}

describe.each(['cpu', 'wasm'] as const)(
  'examples/tfjs-fit on the %s backend with LIVESTEP_TENSORBOARD_DIR',
  (backend) => {
    let logdir: string;
    let runFolder: string;
    let outcome: FitOutcome;
    let folders: Map<string, { files: string[]; events: ReadEvent[] }>;

    beforeAll(async () => {
      logdir = join(folder, `tb-${backend}`);
      runFolder = join(folder, `run-${backend}`);
      outcome = await fit(backend, logdir, runFolder);
      folders = readLogDirectory(logdir);
    });

    it('trains to the end, with nothing on stderr about the sink', () => {
      expect(outcome.code, outcome.stderr).toBe(0);
      expect(outcome.stderr).not.toMatch(/tensorboard/i);
    });

    it('the files grow while it trains: epochs are readable before the fit ends', () => {
      const partial = outcome.seenWhileRunning.filter((count) => count > 0 && count < EPOCHS);
      expect(
        partial.length,
        `looks while running: ${outcome.seenWhileRunning.join(',')}`,
      ).toBeGreaterThan(0);
      // Never fewer than at an earlier look: records are only appended.
      const growing = outcome.seenWhileRunning.every(
        (count, index) => index === 0 || count >= outcome.seenWhileRunning[index - 1]!,
      );
      expect(growing).toBe(true);
    });

    it('writes train/ and val/ event files, each starting with brain.Event:2', () => {
      expect([...folders.keys()].sort()).toEqual(['.', 'train', 'val']);
      for (const { files, events } of folders.values()) {
        expect(files).toHaveLength(1);
        expect(files[0]).toMatch(/^events\.out\.tfevents\.\d{10}\..+\.v2$/);
        expect(events[0]!.fileVersion).toBe('brain.Event:2');
      }
    });

    it("every epoch's loss and accuracy, train and validation, equal what the directory sink wrote", async () => {
      const checks: Array<[string, string, string]> = [
        ['train', 'loss', 'train/loss.tsv'],
        ['train', 'acc', 'train/acc.tsv'],
        ['val', 'loss', 'eval/loss.tsv'],
        ['val', 'acc', 'eval/acc.tsv'],
      ];
      for (const [tbFolder, tag, tsv] of checks) {
        const points = scalarsOf(folders.get(tbFolder)!.events).get(tag)!;
        const expected = await tsvValues(join(runFolder, 'plots', 'metrics', tsv));
        expect(expected.steps).toEqual(Array.from({ length: EPOCHS }, (_, epoch) => epoch));
        expect(points.map((point) => point.step)).toEqual(expected.steps);
        expect(points.map((point) => point.value)).toEqual(expected.values.map(Math.fround));
      }
    });

    it('writes the params as text', () => {
      // Rewritten whenever they change: the last one holds them all (the fit's among them).
      const params = folders
        .get('.')!
        .events.flatMap((event) => event.values)
        .findLast((value) => value.tag === 'params');
      expect(params?.pluginName).toBe('text');
      expect(params?.strings[0]).toContain('"epochs"');
    });
  },
);

/** The README's mapping of a livestep name to (folder, tag), restated from its text. */
function documentedPlace(name: string): [string, string] {
  const segments = name.split('/');
  const index = segments.findIndex(
    (segment, at) =>
      at < segments.length - 1 && ['train', 'eval', 'val', 'validation'].includes(segment),
  );
  if (index >= 0) {
    const folder = [...segments.slice(0, index), segments[index] === 'train' ? 'train' : 'val'];
    return [folder.join('/'), segments.slice(index + 1).join('/')];
  }
  const last = segments.at(-1)!;
  if (/^val_./.test(last)) return [[...segments.slice(0, -1), 'val'].join('/'), last.slice(4)];
  return ['.', name];
}

/** Every series the directory sink wrote for a run equals its TensorBoard scalars. */
async function expectSameSeries(runFolder: string, logdir: string): Promise<number> {
  const folders = readLogDirectory(logdir);
  const root = join(runFolder, 'plots', 'metrics');
  const tsvs = readdirSync(root, { recursive: true, withFileTypes: true }).filter((entry) =>
    entry.isFile(),
  );
  for (const entry of tsvs) {
    const series = relative(root, join(entry.parentPath, entry.name))
      .split('\\')
      .join('/')
      .replace(/\.tsv$/, '');
    const [folder, tag] = documentedPlace(series);
    const expected = await tsvValues(join(entry.parentPath, entry.name));
    const points = scalarsOf(folders.get(folder)?.events ?? []).get(tag) ?? [];
    expect(
      points.map((point) => point.step),
      series,
    ).toEqual(expected.steps);
    expect(
      points.map((point) => point.value),
      series,
    ).toEqual(expected.values.map(Math.fround));
  }
  return tsvs.length;
}

describe('the loop and onnx adapters with LIVESTEP_TENSORBOARD_DIR', () => {
  const run = (example: string, script: string, env: Record<string, string>) =>
    promisify(execFile)(process.execPath, [script], {
      cwd: fileURLToPath(new URL(`../../examples/${example}/`, import.meta.url)),
      env: { ...process.env, LIVESTEP_URL: '', DVC_STUDIO_TOKEN: '', ...env },
      timeout: EXAMPLE_TIMEOUT_MS,
    });

  it('examples/custom-loop (track() from @livestep/loop): every series, system metrics included', async () => {
    const runFolder = join(folder, 'loop-run');
    const logdir = join(folder, 'loop-tb');
    await run('custom-loop', 'src/train.mjs', {
      LIVESTEP_DIR: runFolder,
      LIVESTEP_TENSORBOARD_DIR: logdir,
      EPOCHS: '8',
    });
    expect(await expectSameSeries(runFolder, logdir)).toBeGreaterThanOrEqual(4);
  });

  it('examples/onnx-eval (evaluate() from @livestep/onnx): two runs, one log directory each through {run}', async () => {
    const runsFolder = join(folder, 'onnx-runs');
    const logdir = join(folder, 'onnx-tb', '{run}');
    await run('onnx-eval', 'src/main.mjs', {
      LIVESTEP_DIR: runsFolder,
      LIVESTEP_TENSORBOARD_DIR: logdir,
    });
    for (const name of ['mlp', 'weak']) {
      const count = await expectSameSeries(join(runsFolder, name), join(folder, 'onnx-tb', name));
      expect(count).toBeGreaterThan(10);
    }
  });
});

it('weight histograms and the model summary from a tfjs fit (cpu) with histogramsEveryEpochs', async () => {
  const logdir = join(folder, 'histograms-tb');
  // Run from the example's folder, where @tensorflow/tfjs and @livestep/tfjs resolve.
  const script = `import * as tf from '@tensorflow/tfjs';
import { livestepCallback } from '@livestep/tfjs';
await tf.setBackend('cpu');
const model = tf.sequential({ layers: [tf.layers.dense({ units: 5, inputShape: [3], activation: 'relu' }), tf.layers.dense({ units: 2 })] });
model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
await model.fit(tf.randomNormal([32, 3]), tf.randomNormal([32, 2]), { epochs: 3, verbose: 0, callbacks: [livestepCallback({ histogramsEveryEpochs: 1 })] });`;
  await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
    cwd: exampleFolder,
    env: {
      ...process.env,
      LIVESTEP_DIR: join(folder, 'histograms-run'),
      LIVESTEP_TENSORBOARD_DIR: logdir,
      LIVESTEP_URL: '',
      DVC_STUDIO_TOKEN: '',
    },
    timeout: EXAMPLE_TIMEOUT_MS,
  });
  const events = readLogDirectory(logdir).get('.')!.events;
  const histograms = events.flatMap((event) =>
    event.values.filter((value) => value.histo).map((value) => ({ step: event.step, ...value })),
  );
  // Two layers, a kernel and a bias each (15, 5, 10 and 2 values), at every epoch; the counts
  // add up to the weight's size.
  for (const step of [0, 1, 2]) {
    const atStep = histograms.filter((histogram) => histogram.step === step);
    expect(atStep.map(({ histo }) => histo!.num).sort((a, b) => a - b)).toEqual([2, 5, 10, 15]);
    for (const { tag, histo } of atStep) {
      expect(tag).toMatch(/^histograms\//);
      expect(histo!.bucket.reduce((sum, count) => sum + count, 0)).toBe(histo!.num);
    }
  }
  const notes = events
    .flatMap((event) => event.values)
    .filter((value) => value.tag === 'annotations');
  expect(notes.some((note) => note.pluginName === 'text' && /dense/i.test(note.strings[0]!))).toBe(
    true,
  );
});
