import { describe, expect, it } from 'vitest';
import type { PlotEvent } from '../protocol/events.js';
import { dvclivePlotFile, metricSeriesName, nestMetrics } from './layout.js';

function plot(
  fields: Partial<PlotEvent> & Pick<PlotEvent, 'name' | 'plotKind' | 'rows'>,
): PlotEvent {
  return { id: 'e0', seq: 0, ts: 0, kind: 'plot', ...fields };
}

describe('metricSeriesName', () => {
  it('adds one key=value segment per label, keys sorted, made safe as path segments', () => {
    expect(metricSeriesName('eval/recall')).toBe('eval/recall');
    expect(metricSeriesName('eval/recall', {})).toBe('eval/recall');
    expect(metricSeriesName('eval/recall', { split: 'val', class: 'setosa' })).toBe(
      'eval/recall/class=setosa/split=val',
    );
    // A label value can never add a folder or climb out of one.
    expect(metricSeriesName('m', { path: '../../etc/passwd' })).toBe('m/path=.._.._etc_passwd');
    expect(metricSeriesName('m', { a: 'x\ny' })).toBe('m/a=x_y');
  });
});

describe('dvclivePlotFile', () => {
  it('files roc, pr and calibration under plots/sklearn with DVCLive keys and properties', () => {
    const rows = [{ fpr: 0, tpr: 0, threshold: 1 }];
    expect(dvclivePlotFile(plot({ name: 'roc', plotKind: 'roc', rows }))).toEqual({
      path: 'plots/sklearn/roc.json',
      content: { roc: rows },
      rows,
      properties: {
        template: 'simple',
        x: 'fpr',
        y: 'tpr',
        title: 'Receiver operating characteristic (ROC)',
        x_label: 'False Positive Rate',
        y_label: 'True Positive Rate',
      },
    });
    expect(dvclivePlotFile(plot({ name: 'pr/setosa', plotKind: 'pr', rows: [] }))).toMatchObject({
      path: 'plots/sklearn/pr/setosa.json',
      content: { precision_recall: [] },
    });
    expect(
      dvclivePlotFile(plot({ name: 'calibration.json', plotKind: 'calibration', rows: [] })),
    ).toMatchObject({ path: 'plots/sklearn/calibration.json', content: { calibration: [] } });
  });

  it('stores a confusion matrix as one {actual, predicted} row per sample', () => {
    const file = dvclivePlotFile(
      plot({
        name: 'confusion_matrix',
        plotKind: 'confusion',
        rows: [
          { actual: 'cat', predicted: 'cat', count: 2 },
          { actual: 'cat', predicted: 'dog', count: 0 },
          { actual: 1, predicted: 0 },
        ],
      }),
    );
    expect(file.path).toBe('plots/sklearn/confusion_matrix.json');
    expect(file.content).toEqual([
      { actual: 'cat', predicted: 'cat' },
      { actual: 'cat', predicted: 'cat' },
      { actual: '1', predicted: '0' },
    ]);
    expect(file.properties).toMatchObject({ template: 'confusion', x: 'actual', y: 'predicted' });
  });

  it('files other plots under plots/custom with their template, explicit properties winning', () => {
    const rows = [{ epoch: 1, lr: 0.1 }];
    expect(
      dvclivePlotFile(
        plot({ name: 'lr', plotKind: 'line', rows, x: 'epoch', y: 'lr', xLabel: 'Epoch' }),
      ),
    ).toEqual({
      path: 'plots/custom/lr.json',
      content: rows,
      rows,
      properties: { template: 'linear', x: 'epoch', y: 'lr', x_label: 'Epoch' },
    });
    expect(dvclivePlotFile(plot({ name: 't', plotKind: 'table', rows: [] })).properties).toEqual(
      {},
    );
    expect(
      dvclivePlotFile(plot({ name: 'roc', plotKind: 'roc', rows: [], title: 'ROC, fold 1' }))
        .properties.title,
    ).toBe('ROC, fold 1');
  });
});

describe('nestMetrics', () => {
  it('nests names by "/", adds step, and keeps a folder over a value of the same name', () => {
    expect(
      nestMetrics(
        [
          ['train/loss', 0.5],
          ['eval/loss', 'nan'],
          ['train', 1],
          ['lr', 0.01],
        ],
        7,
      ),
    ).toEqual({ train: { loss: 0.5 }, eval: { loss: 'nan' }, lr: 0.01, step: 7 });
    expect(nestMetrics([['a', 1]])).toEqual({ a: 1 });
  });
});
