import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestRun } from '@livestep/test-support';
import { describe, expect, it } from 'vitest';
import type { MetricEvent, PlotEvent, RunEvent } from '../protocol/events.js';
import { validateBatch } from '../protocol/validate-batch.js';
import { createDirectorySink } from '../sinks/directory-sink.js';
import { imageMimeOfFile, parseMetricCell, plotKindOfSklearnKey } from './layout.js';
import { isDvcliveFolder, readDvcliveFolder } from './read-run-folder.js';

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);

function newFolder(): string {
  return mkdtempSync(join(tmpdir(), 'livestep-read-run-folder-'));
}

/** What a run is about, without the ids, sequence numbers and times a re-read derives anew. */
function content(events: RunEvent[]) {
  return events.map((event) => {
    const { id: _id, seq: _seq, ts: _ts, ...rest } = event;
    return rest;
  });
}

describe('reading a run folder', () => {
  it('gives back what the directory sink wrote: points, params, plots, images, labels and status', async () => {
    const project = newFolder();
    const directory = join(project, 'livestep');
    const { run, sink } = startTestRun({
      experiment: 'iris',
      name: 'first',
      sinks: [createDirectorySink({ directory, dvcYaml: false })],
    });
    run.logParams({ optimizer: { name: 'adam', lr: 0.01 }, epochs: 3 });
    for (let epoch = 0; epoch < 3; epoch++) {
      run.logMetric('train/loss', 1 / (epoch + 1));
      run.logMetric('eval/recall', 0.5 + epoch / 10, { labels: { class: 'setosa' } });
      run.nextStep();
    }
    run.logMetric('train/loss', Number.NaN);
    run.logPlot('roc', {
      kind: 'roc',
      rows: [
        { fpr: 0, tpr: 0, threshold: 1 },
        { fpr: 1, tpr: 1, threshold: 0 },
      ],
    });
    run.logPlot('confusion', {
      kind: 'confusion',
      rows: [
        { actual: 'a', predicted: 'a', count: 2 },
        { actual: 'a', predicted: 'b', count: 1 },
      ],
    });
    run.logPlot('lr-schedule', {
      kind: 'line',
      rows: [
        { step: 0, lr: 0.01 },
        { step: 1, lr: 0.005 },
      ],
    });
    run.logImage('samples/first.png', PNG);
    await run.end();
    const logged = sink.events;

    const recorded = readDvcliveFolder(directory);

    expect(recorded.run).toEqual({ id: run.id, experiment: 'iris', name: 'first' });
    expect(
      validateBatch({ protocol: 1, run: recorded.run, events: recorded.events }),
    ).toMatchObject({ ok: true });
    const metrics = (events: RunEvent[]) =>
      events
        .filter((event): event is MetricEvent => event.kind === 'metric')
        .map(({ name, value, step, labels }) => ({ name, value, step, labels }))
        .sort((a, b) => a.name.localeCompare(b.name) || a.step - b.step);
    expect(metrics(recorded.events)).toEqual(metrics(logged));
    expect(recorded.events.find((event) => event.kind === 'params')).toMatchObject({
      params: { optimizer: { name: 'adam', lr: 0.01 }, epochs: 3 },
    });
    const plots = recorded.events.filter((event): event is PlotEvent => event.kind === 'plot');
    expect(
      plots
        .map(({ name, plotKind }) => ({ name, plotKind }))
        .sort((a, b) => a.name.localeCompare(b.name)),
    ).toEqual([
      { name: 'confusion', plotKind: 'confusion' },
      { name: 'lr-schedule', plotKind: 'custom' },
      { name: 'roc', plotKind: 'roc' },
    ]);
    expect(plots.find((plot) => plot.name === 'confusion')?.rows).toEqual([
      { actual: 'a', predicted: 'a', count: 2 },
      { actual: 'a', predicted: 'b', count: 1 },
    ]);
    expect(plots.find((plot) => plot.name === 'roc')?.rows).toHaveLength(2);
    const image = recorded.events.find((event) => event.kind === 'image');
    expect(image).toMatchObject({ name: 'samples/first.png', mime: 'image/png' });
    expect(Buffer.from((image as { bytes: string }).bytes, 'base64')).toEqual(PNG);
    expect(recorded.events.at(-1)).toMatchObject({ kind: 'done', status: 'completed' });
    expect(recorded.events.map((event) => event.seq)).toEqual(
      recorded.events.map((_, index) => index),
    );

    // Read again: the same events with the same ids, so a second sync stores nothing twice.
    const again = readDvcliveFolder(directory);
    expect(again.events.map((event) => event.id)).toEqual(recorded.events.map((event) => event.id));
    expect(content(again.events)).toEqual(content(recorded.events));
  });

  it('reads a folder Python DVCLive wrote: its value spellings, and its path as the identity', () => {
    const project = newFolder();
    const directory = join(project, 'dvclive');
    mkdirSync(join(directory, 'plots', 'metrics', 'train'), { recursive: true });
    writeFileSync(
      join(directory, 'plots', 'metrics', 'train', 'loss.tsv'),
      'timestamp\tstep\tloss\n1700000000000\t0\t0.5\n1700000000100\t1\tinf\n1700000000200\t2\t-Infinity\n1700000000300\t3\tnan\n',
    );
    writeFileSync(join(directory, 'params.yaml'), 'lr: 0.1\n');
    expect(isDvcliveFolder(directory)).toBe(true);
    expect(isDvcliveFolder(project)).toBe(false);

    const recorded = readDvcliveFolder(directory);

    expect(recorded.run.name).toBe('dvclive');
    expect(
      recorded.events
        .filter((event) => event.kind === 'metric')
        .map((event) => (event as MetricEvent).value),
    ).toEqual([0.5, 'inf', '-inf', 'nan']);
    expect(readDvcliveFolder(directory).run.id).toBe(recorded.run.id);
  });

  it('names the file and the row of a cell that is not a value, and never reads an empty cell as 0', () => {
    const directory = newFolder();
    mkdirSync(join(directory, 'plots', 'metrics'), { recursive: true });
    const file = join(directory, 'plots', 'metrics', 'acc.tsv');
    writeFileSync(file, 'timestamp\tstep\tacc\n1\t0\t0.5\n2\t1\t\n');
    expect(() => readDvcliveFolder(directory)).toThrow(`${file} row 3: the value is empty`);
    writeFileSync(file, 'timestamp\tstep\tacc\n1\t0\t0.5\n2\t1\tgood\n');
    expect(() => readDvcliveFolder(directory)).toThrow(`${file} row 3: not a number: "good"`);
  });
});

describe('the layout tables', () => {
  it('read TSV cells as DVCLive and livestep write them, and nothing else', () => {
    expect(
      ['1.5', ' 2 ', '1e-3', 'NaN', 'inf', '-inf', 'Infinity', '-infinity'].map(parseMetricCell),
    ).toEqual([1.5, 2, 0.001, 'nan', 'inf', '-inf', 'inf', '-inf']);
    expect(['', '  ', 'abc', '1,5'].map(parseMetricCell)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('map sklearn file keys and image extensions back to what the protocol calls them', () => {
    expect(
      ['roc', 'precision_recall', 'calibration', 'confusion_matrix', 'other'].map(
        plotKindOfSklearnKey,
      ),
    ).toEqual(['roc', 'pr', 'calibration', undefined, undefined]);
    expect(
      ['a.png', 'b.JPG', 'c.jpeg', 'd.gif', 'e.webp', 'noextension'].map(imageMimeOfFile),
    ).toEqual(['image/png', 'image/jpeg', 'image/jpeg', 'image/gif', undefined, undefined]);
  });
});

describe('reading a folder its writer left running', () => {
  function runningFolder(lock: Record<string, unknown>): string {
    const directory = newFolder();
    mkdirSync(join(directory, 'plots', 'metrics'), { recursive: true });
    writeFileSync(
      join(directory, 'plots', 'metrics', 'loss.tsv'),
      'timestamp\tstep\tloss\n1\t0\t0.5\n',
    );
    writeFileSync(
      join(directory, 'livestep.json'),
      JSON.stringify({
        protocol: 1,
        run: { id: '0190c4f2-1111-8222-8333-444455556666', experiment: 'e', name: 'r' },
        status: 'running',
        series: {},
      }),
    );
    writeFileSync(join(directory, '.livestep.lock'), JSON.stringify(lock));
    return directory;
  }

  it('sends no end for a writer on another machine: its pid means nothing here', () => {
    const warnings: string[] = [];
    const recorded = readDvcliveFolder(
      runningFolder({ pid: process.pid, host: 'another-machine.example', owner: 'x' }),
      { onWarning: (message) => warnings.push(message) },
    );
    expect(recorded.events.some((event) => event.kind === 'done')).toBe(false);
    expect(warnings.join('\n')).toContain('another-machine.example');
  });

  it('takes a lock naming no real process (pid 0, which kill() reads as a group) as a writer gone', () => {
    const recorded = readDvcliveFolder(runningFolder({ pid: 0, host: hostname(), owner: 'x' }));
    expect(recorded.events.at(-1)).toMatchObject({ kind: 'done', status: 'interrupted' });
  });
});
