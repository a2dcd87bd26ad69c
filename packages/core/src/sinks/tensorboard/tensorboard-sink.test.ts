/**
 * The TensorBoard sink, read back by the independent reader (test-support/event-file-reader.ts:
 * framing, both CRCs and every protobuf field decoded by hand): a run's scalars (NaN and ±inf
 * included) equal to what the directory sink wrote beside them, images, histograms, notes and
 * params; the sink from the environment (what the loop and onnx adapters get from startRun);
 * and a folder that cannot be written, which never reaches the training loop.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseMetricCell } from '../../dvclive/layout.js';
import { decodeMetricValue } from '../../protocol/metric-value.js';
import type { StartRunOptions } from '../../run/run-options.js';
import { startRun } from '../../run/start-run.js';
import { createDirectorySink } from '../directory-sink.js';
import { createTensorBoardSink } from './tensorboard-sink.js';
import { readLogDirectory, scalarsOf } from './test-support/event-file-reader.js';

let folder: string;
beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'livestep-tensorboard-'));
});
afterEach(() => {
  rmSync(folder, { recursive: true, force: true });
});

const quiet: StartRunOptions = {
  experiment: 'tb',
  name: 'tb-run',
  exitHooks: false,
  collectGit: false,
  collectMachine: false,
};

/** A real PNG (signature, IHDR, IDAT, IEND) of `width` x `height` RGBA pixels. */
function png(width: number, height: number): Uint8Array {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(8 + data.length + 4);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 6; // RGBA
  const rows = Buffer.alloc(height * (1 + width * 4), 0x80);
  for (let row = 0; row < height; row++) rows[row * (1 + width * 4)] = 0; // filter: none
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A JPEG's start (SOI, APP0, SOF0 with 3 components): enough for its size to be read. */
function jpegHeader(width: number, height: number): Uint8Array {
  const app0 = [0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0];
  const sof0 = [0xff, 0xc0, 0x00, 0x11, 8, height >> 8, height & 0xff, width >> 8, width & 0xff, 3];
  const components = [1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1];
  return Uint8Array.from([0xff, 0xd8, ...app0, ...sof0, ...components, 0xff, 0xd9]);
}

/** Every TSV the directory sink wrote, as series name -> [{ts, step, value}]. */
function directorySeries(
  runFolder: string,
): Map<string, Array<{ ts: number; step: number; value: number }>> {
  const series = new Map<string, Array<{ ts: number; step: number; value: number }>>();
  const root = join(runFolder, 'plots', 'metrics');
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const name = join(entry.parentPath, entry.name)
      .slice(root.length + 1)
      .replace(/\.tsv$/, '');
    const [, ...lines] = readFileSync(join(entry.parentPath, entry.name), 'utf8')
      .trim()
      .split('\n');
    series.set(
      name.split('\\').join('/'),
      lines.map((line) => {
        const [ts, step, value] = line.split('\t');
        return {
          ts: Number(ts),
          step: Number(step),
          value: decodeMetricValue(parseMetricCell(value!)!),
        };
      }),
    );
  }
  return series;
}

describe('the TensorBoard sink', () => {
  it('writes every scalar, image, histogram, note and the params, read back with both CRCs checked', async () => {
    const logdir = join(folder, 'logs');
    const runFolder = join(folder, 'run');
    const run = startRun({
      ...quiet,
      params: { learningRate: 0.05, model: { units: 8 } },
      sinks: [
        createDirectorySink({ directory: runFolder, dvcYaml: false }),
        createTensorBoardSink({ directory: logdir }),
      ],
    });
    const losses = [1.25, 0.75, Number.NaN, Number.POSITIVE_INFINITY, 0.1 + 0.2];
    for (const [step, loss] of losses.entries()) {
      run.logMetrics({ 'train/loss': loss, 'eval/loss': loss * 2, val_accuracy: step / 10 });
      run.logMetric('train/batch/loss', Number.NEGATIVE_INFINITY, { step: step * 10 });
      run.logMetric('loss', 0, { step });
      run.logMetric('eval/recall', 0.5, { labels: { class: 'setosa' } });
      run.nextStep();
    }
    run.logMetric('train/huge', 1e39, { step: 2 ** 40 });
    run.logImage('samples/digit', png(3, 2), { step: 4 });
    run.logImage('eval/sample', jpegHeader(640, 480), { step: 4 });
    run.logPlot('histograms/dense/kernel', {
      kind: 'bar',
      rows: [
        { bin: -0.5, lower: -1, upper: 0, count: 3 },
        { bin: 0.5, lower: 0, upper: 1, count: 5 },
      ],
      step: 4,
    });
    run.logPlot('confusion_matrix', {
      kind: 'confusion',
      rows: [{ actual: 'a', predicted: 'a', count: 1 }],
    });
    run.annotate('checkpoint saved', { level: 'warning', labels: { epoch: '4' } });
    await run.end();

    const folders = readLogDirectory(logdir);
    expect([...folders.keys()].sort()).toEqual(['.', 'train', 'val']);
    for (const { files, events } of folders.values()) {
      expect(files).toHaveLength(1);
      expect(files[0]).toMatch(
        new RegExp(`^events\\.out\\.tfevents\\.\\d{10}\\.${hostname()}\\.v2$`),
      );
      const seconds = Number(files[0]!.split('.')[3]);
      expect(events[0]).toEqual({
        wallTime: seconds,
        step: 0,
        fileVersion: 'brain.Event:2',
        values: [],
      });
      expect(events.slice(1).every((event) => event.values.length === 1)).toBe(true);
    }

    // Every point the directory sink wrote is in its folder, under its tag, at its step and
    // time, with its value as a float32 (NaN and ±inf as they are; 1e39 beyond float32 is inf).
    const expected = directorySeries(runFolder);
    const places: Record<string, [string, string]> = {
      'train/loss': ['train', 'loss'],
      'train/batch/loss': ['train', 'batch/loss'],
      'train/huge': ['train', 'huge'],
      'eval/loss': ['val', 'loss'],
      val_accuracy: ['val', 'accuracy'],
      loss: ['.', 'loss'],
      'eval/recall/class=setosa': ['val', 'recall/class=setosa'],
    };
    expect([...expected.keys()].sort()).toEqual(Object.keys(places).sort());
    let compared = 0;
    for (const [series, [tbFolder, tag]] of Object.entries(places)) {
      const points = scalarsOf(folders.get(tbFolder)!.events).get(tag)!;
      const rows = expected.get(series)!;
      expect(points.map((point) => point.step)).toEqual(rows.map((row) => row.step));
      expect(points.map((point) => Math.round(point.wallTime * 1000))).toEqual(
        rows.map((row) => row.ts),
      );
      expect(points.map((point) => point.value)).toEqual(rows.map((row) => Math.fround(row.value)));
      compared += points.length;
    }
    expect(compared).toBe(5 * 6 + 1);
    const trainLoss = scalarsOf(folders.get('train')!.events)
      .get('loss')!
      .map((point) => point.value);
    expect(trainLoss[2]).toBeNaN();
    expect(trainLoss[3]).toBe(Number.POSITIVE_INFINITY);
    expect(scalarsOf(folders.get('train')!.events).get('huge')).toEqual([
      expect.objectContaining({ step: 2 ** 40, value: Number.POSITIVE_INFINITY }),
    ]);

    const root = folders
      .get('.')!
      .events.flatMap((event) => event.values.map((value) => ({ step: event.step, value })));
    const image = root.find(({ value }) => value.tag === 'samples/digit')!;
    expect(image.step).toBe(4);
    expect(image.value.image).toMatchObject({ width: 3, height: 2, colorspace: 4 });
    expect(Buffer.from(image.value.image!.encoded)).toEqual(Buffer.from(png(3, 2)));
    const jpeg = folders
      .get('val')!
      .events.flatMap((event) => event.values)
      .find((value) => value.tag === 'sample')!;
    expect(jpeg.image).toMatchObject({ width: 640, height: 480, colorspace: 3 });

    const histogram = root.find(({ value }) => value.tag === 'histograms/dense/kernel')!;
    expect(histogram.step).toBe(4);
    expect(histogram.value.histo).toEqual({
      min: -1,
      max: 1,
      num: 8,
      sum: -0.5 * 3 + 0.5 * 5,
      sumSquares: 0.25 * 8,
      bucketLimit: [0, 1],
      bucket: [3, 5],
    });
    expect(root.some(({ value }) => value.tag === 'confusion_matrix')).toBe(false);

    const texts = root.filter(({ value }) => value.pluginName === 'text');
    const note = texts.find(({ value }) => value.tag === 'annotations')!;
    expect(note.step).toBe(5);
    expect(note.value.tensor).toEqual({
      dtype: 7,
      shapeBytes: 0,
      strings: ['warning: checkpoint saved (epoch=4)'],
    });
    expect(note.value.dataClass).toBe(2);
    const params = texts.find(({ value }) => value.tag === 'params')!;
    expect(JSON.parse(params.value.tensor!.strings[0]!.replace(/^```json\n|\n```$/g, ''))).toEqual({
      learningRate: 0.05,
      model: { units: 8 },
    });
  });

  it('writes while the run goes on: each logging call that seals a batch grows the file', async () => {
    const logdir = join(folder, 'logs');
    const run = startRun({
      ...quiet,
      maxBatchEvents: 1,
      sinks: [createTensorBoardSink({ directory: logdir })],
    });
    for (let step = 0; step < 3; step++) {
      run.logMetric('train/loss', 1 / (step + 1));
      run.nextStep();
      // A loop that never yields: the points are on disk without an await.
      const seen = scalarsOf(readLogDirectory(logdir).get('train')?.events ?? []).get('loss') ?? [];
      expect(seen).toHaveLength(step + 1);
    }
    await run.end();
    expect(scalarsOf(readLogDirectory(logdir).get('train')!.events).get('loss')).toHaveLength(3);
  });

  it('is on from LIVESTEP_TENSORBOARD_DIR, as startRun gives it to every adapter, with {run} in the path', async () => {
    const run = startRun({
      ...quiet,
      name: 'bright-owl',
      directory: join(folder, 'run'),
      environment: { LIVESTEP_TENSORBOARD_DIR: join(folder, 'logs', '{experiment}', '{run}') },
    });
    run.logMetric('train/loss', 0.5);
    run.logMetric('eval/accuracy', 0.9);
    const report = await run.end();
    expect(report.sinks.map((sink) => sink.sink)).toContain(
      `tensorboard:${join(folder, 'logs', '{experiment}', '{run}')}`,
    );
    const folders = readLogDirectory(join(folder, 'logs', 'tb', 'bright-owl'));
    expect(scalarsOf(folders.get('train')!.events).get('loss')).toEqual([
      expect.objectContaining({ value: 0.5 }),
    ]);
    expect(scalarsOf(folders.get('val')!.events).get('accuracy')).toEqual([
      expect.objectContaining({ value: Math.fround(0.9) }),
    ]);
  });

  it('keeps apart two runs started in the same second in one log directory', async () => {
    const logdir = join(folder, 'logs');
    for (const name of ['first', 'second']) {
      const run = startRun({
        ...quiet,
        name,
        sinks: [createTensorBoardSink({ directory: logdir })],
      });
      run.logMetric('train/loss', name === 'first' ? 1 : 2);
      await run.end();
    }
    const train = readLogDirectory(logdir).get('train')!;
    expect(train.files).toHaveLength(2);
    expect(
      scalarsOf(train.events)
        .get('loss')!
        .map((point) => point.value)
        .sort(),
    ).toEqual([1, 2]);
  });

  it('never stops training when the folder cannot be written: it counts and warns once', async () => {
    const blocked = join(folder, 'blocked');
    writeFileSync(blocked, 'a file where the log directory should be');
    const warnings: string[] = [];
    const run = startRun({
      ...quiet,
      sinks: [
        createTensorBoardSink({
          directory: blocked,
          onWarning: (message) => warnings.push(message),
        }),
      ],
    });
    for (let step = 0; step < 10; step++) {
      run.logMetric('train/loss', step);
      run.nextStep();
    }
    const report = await run.end();
    expect(report.ok).toBe(false);
    expect(report.sinks[0]).toMatchObject({ failed: 10 });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/cannot write .*blocked.*ENOTDIR/);
  });

  it('asks for a directory', () => {
    expect(() => createTensorBoardSink({} as never)).toThrow(/needs \{ directory \}/);
  });
});
