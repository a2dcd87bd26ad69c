import { describe, expect, it } from 'vitest';
import { precisionRecallCurve, rocCurve } from './classifier-curves.js';

// Expected rows from scikit-learn 1.5: roc_curve(y, s, drop_intermediate=False) and
// precision_recall_curve(y, s) for y = [0, 0, 1, 1], s = [0.1, 0.4, 0.35, 0.8].
const labels = [0, 0, 1, 1];
const scores = [0.1, 0.4, 0.35, 0.8];

describe('rocCurve', () => {
  it('matches scikit-learn', () => {
    const plot = rocCurve(labels, scores, { step: 3 });
    expect(plot).toMatchObject({ kind: 'roc', x: 'fpr', y: 'tpr', step: 3 });
    expect(plot.rows).toEqual([
      { fpr: 0, tpr: 0, threshold: 'inf' },
      { fpr: 0, tpr: 0.5, threshold: 0.8 },
      { fpr: 0.5, tpr: 0.5, threshold: 0.4 },
      { fpr: 0.5, tpr: 1, threshold: 0.35 },
      { fpr: 1, tpr: 1, threshold: 0.1 },
    ]);
  });

  it('moves tied scores together and rejects mismatched lengths', () => {
    expect(rocCurve([1, 0], [0.5, 0.5]).rows).toEqual([
      { fpr: 0, tpr: 0, threshold: 'inf' },
      { fpr: 1, tpr: 1, threshold: 0.5 },
    ]);
    expect(() => rocCurve([1], [0.5, 0.2])).toThrow(/1 labels and 2 scores/);
  });
});

describe('precisionRecallCurve', () => {
  it('matches scikit-learn, lowest threshold first', () => {
    expect(precisionRecallCurve(labels, scores).rows).toEqual([
      { precision: 0.5, recall: 1, threshold: 0.1 },
      { precision: 2 / 3, recall: 1, threshold: 0.35 },
      { precision: 0.5, recall: 0.5, threshold: 0.4 },
      { precision: 1, recall: 0.5, threshold: 0.8 },
    ]);
  });
});
