import { calibrationCurve, precisionRecallCurve, rocCurve } from '@livestep/core';
import { describe, expect, it } from 'vitest';
import { classifierCurves } from './classifier-curves.js';

// The rows come from @livestep/core's curves; these pin them on hand-checked cases.
const rocRows = (positives: boolean[], scores: number[]) => rocCurve(positives, scores).rows;
const precisionRecallRows = (positives: boolean[], scores: number[]) =>
  precisionRecallCurve(positives, scores).rows;
const calibrationRows = (positives: boolean[], scores: number[], bins?: number) =>
  calibrationCurve(positives, scores, bins === undefined ? {} : { bins }).rows;

// Scores 0.9 (positive), 0.8 (negative), 0.8 (positive: tied), 0.1 (negative); 2 of each.
// Thresholds from the top: >= 0.9 -> tp 1, fp 0; >= 0.8 -> tp 2, fp 1; >= 0.1 -> tp 2, fp 2.
const positives = [true, false, true, false];
const scores = [0.9, 0.8, 0.8, 0.1];

describe('curve rows', () => {
  it('ROC: (0, 0) at inf, then one point per distinct score, tied scores together', () => {
    expect(rocRows(positives, scores)).toEqual([
      { fpr: 0, tpr: 0, threshold: 'inf' },
      { fpr: 0, tpr: 0.5, threshold: 0.9 },
      { fpr: 0.5, tpr: 1, threshold: 0.8 },
      { fpr: 1, tpr: 1, threshold: 0.1 },
    ]);
  });

  it('precision-recall: lowest threshold first', () => {
    expect(precisionRecallRows(positives, scores)).toEqual([
      { precision: 2 / 4, recall: 1, threshold: 0.1 },
      { precision: 2 / 3, recall: 1, threshold: 0.8 },
      { precision: 1, recall: 0.5, threshold: 0.9 },
    ]);
  });

  it('calibration: mean score and fraction of positives per non-empty bin', () => {
    // 5 bins: 0.1 -> bin 0 (negative); 0.9, 0.8, 0.8 -> bin 4 (2 positives of 3)
    const rows = calibrationRows(positives, scores);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toEqual({ prob_true: 0, prob_pred: 0.1 });
    expect(rows[1]!.prob_true).toBeCloseTo(2 / 3, 12);
    expect(rows[1]!.prob_pred).toBeCloseTo((0.9 + 0.8 + 0.8) / 3, 12);
    // 1.0 falls in the last bin, not past it
    expect(calibrationRows([true], [1], 4)).toEqual([{ prob_true: 1, prob_pred: 1 }]);
  });

  it('perfect separation and no positives at all', () => {
    expect(rocRows([true, false], [0.7, 0.2])).toEqual([
      { fpr: 0, tpr: 0, threshold: 'inf' },
      { fpr: 0, tpr: 1, threshold: 0.7 },
      { fpr: 1, tpr: 1, threshold: 0.2 },
    ]);
    expect(rocRows([false, false], [0.7, 0.2]).map((row) => row.tpr)).toEqual([0, 0, 0]);
  });
});

describe('classifierCurves', () => {
  it('one set for two classes (class 1 positive), one per class for more', () => {
    const binary = classifierCurves([0.1, 0.9, 0.8, 0.2], [1, 0], 2);
    expect(binary).toHaveLength(1);
    expect(binary[0]!.positiveClass).toBe(1);
    expect(binary[0]!.roc.rows).toEqual(rocRows([true, false], [0.9, 0.2]));
    expect(
      classifierCurves([0.1, 0.9, 0.8, 0.2], [1, 0], 2, { positiveClass: 0 })[0]!.roc.rows,
    ).toEqual(rocRows([false, true], [0.1, 0.8]));
    const three = classifierCurves([0.7, 0.2, 0.1, 0.2, 0.5, 0.3], [0, 2], 3);
    expect(three.map((curves) => curves.positiveClass)).toEqual([0, 1, 2]);
    expect(three[2]!.precisionRecall.rows).toEqual(precisionRecallRows([false, true], [0.1, 0.3]));
    expect(three[0]!.calibration.kind).toBe('calibration');
  });
});
