import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { confusionMatrix } from '../plots/confusion-matrix.js';
import { Run } from '../run/run.js';
import { createDirectorySink } from './directory-sink.js';

function workspace(): { root: string; directory: string } {
  const root = mkdtempSync(join(tmpdir(), 'livestep-directory-'));
  return { root, directory: join(root, 'livestep') };
}

function runInto(directory: string, options: { resume?: boolean } = {}): Run {
  return new Run({
    experiment: 'layout',
    name: 'layout-run',
    sinks: [createDirectorySink({ directory, ...options })],
    exitHooks: false,
    collectGit: false,
  });
}

function listFiles(folder: string): string[] {
  const files: string[] = [];
  const walk = (current: string) => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.push(relative(folder, path).split('\\').join('/'));
    }
  };
  walk(folder);
  return files.sort();
}

const read = (path: string) => readFileSync(path, 'utf8');

describe('directory sink (DVCLive layout)', () => {
  it('writes metrics.json, params.yaml, TSVs and dvc.yaml exactly as DVCLive does', async () => {
    const { root, directory } = workspace();
    const run = runInto(directory);
    run.logParams({ optimizer: { name: 'adam', learningRate: 0.001 }, epochs: 2 });
    for (let epoch = 0; epoch < 2; epoch++) {
      run.logMetrics({ 'train/loss': 1 / (epoch + 1), 'train/accuracy': 0.5 + epoch / 4 });
      run.logMetric('eval/loss', epoch === 0 ? Number.NaN : Number.POSITIVE_INFINITY);
      if (epoch === 0) run.nextStep();
    }
    await run.end();

    // DVCLive's files, plus livestep.json: the run's identity and status, for `livestep sync`.
    expect(listFiles(directory)).toEqual([
      'livestep.json',
      'metrics.json',
      'params.yaml',
      'plots/metrics/eval/loss.tsv',
      'plots/metrics/train/accuracy.tsv',
      'plots/metrics/train/loss.tsv',
    ]);
    const metricsText = read(join(directory, 'metrics.json'));
    expect(metricsText.endsWith('}\n')).toBe(true);
    expect(metricsText).toContain('\n    "train": {\n        "loss": 0.5,');
    expect(JSON.parse(metricsText)).toEqual({
      train: { loss: 0.5, accuracy: 0.75 },
      eval: { loss: 'inf' },
      step: 1,
    });
    expect(YAML.parse(read(join(directory, 'params.yaml')))).toEqual({
      optimizer: { name: 'adam', learningRate: 0.001 },
      epochs: 2,
    });
    expect(read(join(directory, 'params.yaml'))).toContain('optimizer:\n  name: adam\n');

    const lossRows = read(join(directory, 'plots/metrics/train/loss.tsv')).split('\n');
    expect(lossRows[0]).toBe('timestamp\tstep\tloss');
    expect(lossRows.slice(1, 3).map((row) => row.split('\t').slice(1))).toEqual([
      ['0', '1'],
      ['1', '0.5'],
    ]);
    expect(lossRows[3]).toBe('');
    for (const row of lossRows.slice(1, 3)) expect(row.split('\t')[0]).toMatch(/^\d{13}$/);
    const evalRows = read(join(directory, 'plots/metrics/eval/loss.tsv')).trim().split('\n');
    expect(evalRows.map((row) => row.split('\t').slice(1))).toEqual([
      ['step', 'loss'],
      ['0', 'nan'],
      ['1', 'inf'],
    ]);

    expect(YAML.parse(read(join(root, 'dvc.yaml')))).toEqual({
      metrics: ['livestep/metrics.json'],
      params: ['livestep/params.yaml'],
      plots: [{ 'livestep/plots/metrics': { x: 'step' } }],
    });
  });

  it('appends TSV rows across batches instead of rewriting them', async () => {
    const { directory } = workspace();
    const run = runInto(directory);
    run.logMetric('loss', 3);
    await run.flush();
    run.nextStep();
    run.logMetric('loss', 2);
    await run.flush();
    run.nextStep();
    run.logMetric('loss', 1);
    await run.end();
    const rows = read(join(directory, 'plots/metrics/loss.tsv')).trim().split('\n');
    expect(rows.map((row) => row.split('\t').slice(1).join(' '))).toEqual([
      'step loss',
      '0 3',
      '1 2',
      '2 1',
    ]);
  });

  it('writes sklearn plots, custom plots and images, and lists them in dvc.yaml', async () => {
    const { root, directory } = workspace();
    const run = runInto(directory);
    run.logPlot(
      'confusion_matrix',
      confusionMatrix([0, 0, 1, 1, 1], [0, 1, 1, 1, 0], { labels: ['no', 'yes'] }),
    );
    run.logPlot('roc', {
      kind: 'roc',
      rows: [
        { fpr: 0, tpr: 0, threshold: 1 },
        { fpr: 1, tpr: 1, threshold: 0 },
      ],
    });
    run.logPlot('precision_recall', {
      kind: 'pr',
      rows: [{ precision: 1, recall: 0, threshold: 1 }],
    });
    run.logPlot('calibration', { kind: 'calibration', rows: [{ prob_true: 0.5, prob_pred: 0.4 }] });
    run.logPlot('lr_schedule', {
      kind: 'line',
      rows: [{ epoch: 0, lr: 0.1 }],
      x: 'epoch',
      y: 'lr',
      title: 'LR',
    });
    run.logImage('samples/digit.png', Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 1, 2]));
    await run.end();

    expect(JSON.parse(read(join(directory, 'plots/sklearn/confusion_matrix.json')))).toEqual([
      { actual: 'no', predicted: 'no' },
      { actual: 'no', predicted: 'yes' },
      { actual: 'yes', predicted: 'yes' },
      { actual: 'yes', predicted: 'yes' },
      { actual: 'yes', predicted: 'no' },
    ]);
    expect(JSON.parse(read(join(directory, 'plots/sklearn/roc.json')))).toEqual({
      roc: [
        { fpr: 0, tpr: 0, threshold: 1 },
        { fpr: 1, tpr: 1, threshold: 0 },
      ],
    });
    expect(JSON.parse(read(join(directory, 'plots/sklearn/precision_recall.json')))).toEqual({
      precision_recall: [{ precision: 1, recall: 0, threshold: 1 }],
    });
    expect(JSON.parse(read(join(directory, 'plots/sklearn/calibration.json')))).toEqual({
      calibration: [{ prob_true: 0.5, prob_pred: 0.4 }],
    });
    expect(JSON.parse(read(join(directory, 'plots/custom/lr_schedule.json')))).toEqual([
      { epoch: 0, lr: 0.1 },
    ]);
    expect([...readFileSync(join(directory, 'plots/images/samples/digit.png'))]).toEqual([
      0x89, 0x50, 0x4e, 0x47, 1, 2,
    ]);

    const dvcYaml = YAML.parse(read(join(root, 'dvc.yaml')));
    expect(dvcYaml.plots).toEqual([
      'livestep/plots/images',
      {
        'livestep/plots/sklearn/confusion_matrix.json': {
          template: 'confusion',
          x: 'actual',
          y: 'predicted',
          title: 'Confusion Matrix',
          x_label: 'True Label',
          y_label: 'Predicted Label',
        },
      },
      {
        'livestep/plots/sklearn/roc.json': {
          template: 'simple',
          x: 'fpr',
          y: 'tpr',
          title: 'Receiver operating characteristic (ROC)',
          x_label: 'False Positive Rate',
          y_label: 'True Positive Rate',
        },
      },
      {
        'livestep/plots/sklearn/precision_recall.json': {
          template: 'simple',
          x: 'recall',
          y: 'precision',
          title: 'Precision-Recall Curve',
          x_label: 'Recall',
          y_label: 'Precision',
        },
      },
      {
        'livestep/plots/sklearn/calibration.json': {
          template: 'simple',
          x: 'prob_pred',
          y: 'prob_true',
          title: 'Calibration Curve',
          x_label: 'Mean Predicted Probability',
          y_label: 'Fraction of Positives',
        },
      },
      {
        'livestep/plots/custom/lr_schedule.json': {
          template: 'linear',
          x: 'epoch',
          y: 'lr',
          title: 'LR',
        },
      },
    ]);
  });

  it('starts clean for a new run and keeps the other entries of an existing dvc.yaml', async () => {
    const { root, directory } = workspace();
    mkdirSync(join(directory, 'plots/metrics'), { recursive: true });
    writeFileSync(join(directory, 'plots/metrics/old.tsv'), 'timestamp\tstep\told\n1\t0\t1\n');
    writeFileSync(join(directory, 'report.html'), '<html></html>');
    writeFileSync(
      join(root, 'dvc.yaml'),
      YAML.stringify({
        stages: { train: { cmd: 'node train.mjs' } },
        metrics: ['other/metrics.json', 'livestep/stale.json'],
        plots: ['other/plot.json', { 'livestep/plots/old': { x: 'step' } }],
      }),
    );
    const run = runInto(directory);
    run.logMetric('loss', 1);
    await run.end();
    expect(existsSync(join(directory, 'plots/metrics/old.tsv'))).toBe(false);
    expect(existsSync(join(directory, 'report.html'))).toBe(false);
    expect(YAML.parse(read(join(root, 'dvc.yaml')))).toEqual({
      metrics: ['other/metrics.json', 'livestep/metrics.json'],
      plots: ['other/plot.json', { 'livestep/plots/metrics': { x: 'step' } }],
      stages: { train: { cmd: 'node train.mjs' } },
    });
  });

  it('resumes like DVCLive: next step, appended rows, kept summary, params and plots', async () => {
    const { root, directory } = workspace();
    const common = {
      experiment: 'layout',
      exitHooks: false,
      collectGit: false,
      directory,
    } as const;
    const first = new Run({ ...common, params: { a: 1 } });
    first.logMetric('train/loss', 1);
    first.logMetric('train/old', 5);
    first.nextStep();
    first.logMetric('train/loss', 0.5);
    first.logPlot('roc', { kind: 'roc', rows: [{ fpr: 0, tpr: 0 }] });
    await first.end();

    const second = new Run({ ...common, params: { b: 2 }, resume: true });
    expect(second.step).toBe(2);
    expect(second.directory).toBe(directory);
    second.logMetric('train/loss', 0.25);
    second.logMetric('train/new', 7);
    await second.end();

    const rows = (path: string) =>
      read(join(directory, path))
        .trim()
        .split('\n')
        .map((row) => row.split('\t').slice(1).join(' '));
    expect(rows('plots/metrics/train/loss.tsv')).toEqual(['step loss', '0 1', '1 0.5', '2 0.25']);
    expect(rows('plots/metrics/train/new.tsv')).toEqual(['step new', '2 7']);
    expect(JSON.parse(read(join(directory, 'metrics.json')))).toEqual({
      train: { loss: 0.25, old: 5, new: 7 },
      step: 2,
    });
    expect(YAML.parse(read(join(directory, 'params.yaml')))).toEqual({ a: 1, b: 2 });
    // The earlier part's plot entry is kept, in the order the file already had.
    expect(YAML.parse(read(join(root, 'dvc.yaml'))).plots).toEqual([
      { 'livestep/plots/metrics': { x: 'step' } },
      expect.objectContaining({ 'livestep/plots/sklearn/roc.json': expect.anything() }),
    ]);
  });

  it('resumes from LIVESTEP_RESUME into an empty folder with headers', async () => {
    const { directory } = workspace();
    const run = new Run({
      exitHooks: false,
      collectGit: false,
      environment: { LIVESTEP_DIR: directory, LIVESTEP_RESUME: '1' },
    });
    expect(run.step).toBe(0);
    run.logMetric('loss', 3);
    await run.end();
    expect(read(join(directory, 'plots/metrics/loss.tsv'))).toMatch(
      /^timestamp\tstep\tloss\n\d+\t0\t3\n$/,
    );
  });

  it('writes labelled series to their own files, with unsafe label characters replaced', async () => {
    const { directory } = workspace();
    const run = runInto(directory);
    run.logMetric('eval/recall', 0.5, { labels: { class: 'setosa' } });
    run.logMetric('eval/recall', 0.7, { labels: { class: '../../escape' } });
    await run.end();
    expect(listFiles(directory)).toEqual([
      'livestep.json',
      'metrics.json',
      'plots/metrics/eval/recall/class=.._.._escape.tsv',
      'plots/metrics/eval/recall/class=setosa.tsv',
    ]);
  });

  it('records the run, its status and which file holds which labelled series in livestep.json', async () => {
    const { directory } = workspace();
    const run = runInto(directory);
    run.logMetric('eval/recall', 0.5, { labels: { class: 'setosa' } });
    run.logMetric('eval/recall', 0.7, { labels: { class: '../../escape' } });
    run.logMetric('train/loss', 1);
    await run.flush();
    expect(JSON.parse(read(join(directory, 'livestep.json'))).status).toBe('running');
    await run.end('failed', { error: new Error('diverged') });
    expect(JSON.parse(read(join(directory, 'livestep.json')))).toEqual({
      protocol: 1,
      run: { id: run.id, experiment: 'layout', name: 'layout-run' },
      status: 'failed',
      error: expect.objectContaining({ name: 'Error', message: 'diverged' }),
      series: {
        'eval/recall/class=setosa': { name: 'eval/recall', labels: { class: 'setosa' } },
        'eval/recall/class=.._.._escape': {
          name: 'eval/recall',
          labels: { class: '../../escape' },
        },
      },
    });
  });

  it('writes what is queued synchronously at process exit', () => {
    const { directory } = workspace();
    const sink = createDirectorySink({ directory, dvcYaml: false });
    const run = { id: '00000000-0000-4000-8000-000000000000', experiment: 'e', name: 'n' };
    sink.sendSync!({
      protocol: 1,
      run,
      events: [
        {
          id: '00000000-0000-8000-8000-000000000000',
          seq: 0,
          ts: 1,
          kind: 'start',
          experiment: 'e',
          name: 'n',
        },
        {
          id: '00000000-0000-8000-8000-000000000001',
          seq: 1,
          ts: 2,
          kind: 'metric',
          name: 'm',
          value: 1,
          step: 0,
        },
        {
          id: '00000000-0000-8000-8000-000000000002',
          seq: 2,
          ts: 3,
          kind: 'done',
          status: 'interrupted',
        },
      ],
    });
    expect(read(join(directory, 'plots/metrics/m.tsv'))).toBe('timestamp\tstep\tm\n2\t0\t1\n');
    expect(JSON.parse(read(join(directory, 'metrics.json')))).toEqual({ m: 1, step: 0 });
  });
});

describe('directory sink, a file that cannot be written', () => {
  it('never takes its batch-mates down: the other files are written, its events counted and warned once', async () => {
    const { directory } = workspace();
    const warnings: string[] = [];
    const run = new Run({
      experiment: 'layout',
      exitHooks: false,
      collectGit: false,
      sinks: [createDirectorySink({ directory, onWarning: (message) => warnings.push(message) })],
    });
    run.logMetric('train/loss', 1);
    await run.flush();
    // A folder where the series' file would go: opening it for appending fails (EISDIR).
    mkdirSync(join(directory, 'plots/metrics/train/blocked.tsv'), { recursive: true });
    for (let step = 1; step <= 3; step++) {
      run.logMetrics({ 'train/loss': 1 / (step + 1), 'train/blocked': step }, { step });
    }
    const report = await run.end();
    expect(read(join(directory, 'plots/metrics/train/loss.tsv')).trim().split('\n')).toHaveLength(
      5,
    );
    expect(JSON.parse(read(join(directory, 'metrics.json')))).toMatchObject({
      train: { loss: 0.25, blocked: 3 },
      step: 3,
    });
    expect(report.sinks[0]).toMatchObject({ failed: 3, failedByReason: { send_error: 3 } });
    expect(report.sinks[0]!.lastError).toMatch(/cannot write in .* \(EISDIR/);
    expect(warnings.filter((warning) => warning.includes('EISDIR'))).toHaveLength(1);
  });
});
