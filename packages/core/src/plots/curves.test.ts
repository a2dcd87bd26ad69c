import { describe, expect, it } from 'vitest';
import { calibrationCurve, precisionRecallCurve, rocCurve } from './curves.js';

describe('rocCurve', () => {
  it('matches a hand-computed curve with a tie', () => {
    // scores: 0.9 (+), 0.8 (-), 0.8 (+), 0.1 (-)
    const plot = rocCurve([1, 0, 1, 0], [0.9, 0.8, 0.8, 0.1]);
    expect(plot.kind).toBe('roc');
    expect(plot.rows).toEqual([
      { fpr: 0, tpr: 0, threshold: 'inf' },
      { fpr: 0, tpr: 0.5, threshold: 0.9 },
      { fpr: 0.5, tpr: 1, threshold: 0.8 },
      { fpr: 1, tpr: 1, threshold: 0.1 },
    ]);
  });

  it('is a step up the left edge for a perfect classifier', () => {
    const plot = rocCurve([true, true, false, false], [0.9, 0.7, 0.3, 0.2]);
    expect(plot.rows.map((row) => [row.fpr, row.tpr])).toEqual([
      [0, 0],
      [0, 0.5],
      [0, 1],
      [0.5, 1],
      [1, 1],
    ]);
  });

  it('refuses mismatched or non-finite input', () => {
    expect(() => rocCurve([1], [0.5, 0.2])).toThrow(/1 labels and 2 scores/);
    expect(() => rocCurve([1], [Number.NaN])).toThrow(/score 0 is NaN/);
  });
});

describe('precisionRecallCurve', () => {
  it('matches a hand-computed curve, lowest threshold first', () => {
    const plot = precisionRecallCurve([1, 0, 1, 0], [0.9, 0.8, 0.8, 0.1]);
    expect(plot.rows).toEqual([
      { precision: 0.5, recall: 1, threshold: 0.1 },
      { precision: 2 / 3, recall: 1, threshold: 0.8 },
      { precision: 1, recall: 0.5, threshold: 0.9 },
    ]);
  });
});

describe('calibrationCurve', () => {
  it('averages scores and positives per non-empty bin', () => {
    const plot = calibrationCurve([0, 0, 1, 1, 1], [0.1, 0.15, 0.55, 0.65, 1], { bins: 2 });
    expect(plot.rows).toEqual([
      { prob_true: 0, prob_pred: 0.125 },
      { prob_true: 1, prob_pred: (0.55 + 0.65 + 1) / 3 },
    ]);
  });

  it('refuses scores that are not probabilities', () => {
    expect(() => calibrationCurve([1], [1.5])).toThrow(/pass probabilities in \[0, 1\]/);
    expect(() => calibrationCurve([1], [0.5], { bins: 0 })).toThrow(/bins is 0/);
  });
});

describe('agreement with scikit-learn', () => {
  // Rows from scikit-learn 1.5: roc_curve(y, s, drop_intermediate=False) and
  // precision_recall_curve(y, s) for y = [0, 0, 1, 1], s = [0.1, 0.4, 0.35, 0.8].
  const labels = [0, 0, 1, 1];
  const scores = [0.1, 0.4, 0.35, 0.8];

  it('ROC', () => {
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

  it('precision-recall, lowest threshold first', () => {
    expect(precisionRecallCurve(labels, scores).rows).toEqual([
      { precision: 0.5, recall: 1, threshold: 0.1 },
      { precision: 2 / 3, recall: 1, threshold: 0.35 },
      { precision: 0.5, recall: 0.5, threshold: 0.4 },
      { precision: 1, recall: 0.5, threshold: 0.8 },
    ]);
  });

  it('calibration puts a probability of exactly 1 in the last bin', () => {
    expect(calibrationCurve([true], [1], { bins: 4 }).rows).toEqual([
      { prob_true: 1, prob_pred: 1 },
    ]);
  });
});
