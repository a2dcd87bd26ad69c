import { describe, expect, it } from 'vitest';
import {
  argmaxRow,
  classificationMetrics,
  isInTopK,
  LOG_LOSS_EPSILON,
} from './classification-metrics.js';

// Expected values below are worked out by hand from the confusion counts, in the comments.

describe('classificationMetrics', () => {
  it('perfect predictions: every score 1, log loss ~0', () => {
    const summary = classificationMetrics([1, 0, 0, 0, 1, 0, 0, 0, 1], [0, 1, 2], 3, {
      topK: [2],
    });
    expect(summary.accuracy).toBe(1);
    expect(summary.topKAccuracy).toEqual({ 2: 1 });
    // -ln(1 - 1e-15) per sample
    expect(summary.logLoss).toBe(-Math.log(1 - LOG_LOSS_EPSILON));
    expect(summary.logLoss).toBeLessThan(1e-14);
    for (const average of [summary.macro, summary.micro, summary.weighted]) {
      expect(average).toEqual({ precision: 1, recall: 1, f1: 1 });
    }
    expect(summary.perClass.map((scores) => scores.support)).toEqual([1, 1, 1]);
    expect([...summary.predictions]).toEqual([0, 1, 2]);
  });

  it('all wrong: every score 0, log loss = -ln(1e-15)', () => {
    const summary = classificationMetrics([0, 1, 1, 0], [0, 1], 2);
    expect(summary.accuracy).toBe(0);
    expect(summary.logLoss).toBeCloseTo(-Math.log(LOG_LOSS_EPSILON), 10);
    expect(summary.logLoss).toBeCloseTo(34.538776394910684, 10);
    for (const scores of summary.perClass) {
      expect(scores).toMatchObject({ precision: 0, recall: 0, f1: 0, support: 1, predicted: 1 });
    }
    expect(summary.macro).toEqual({ precision: 0, recall: 0, f1: 0 });
    expect(summary.micro).toEqual({ precision: 0, recall: 0, f1: 0 });
  });

  it('imbalanced binary classes: 8 negatives, 2 positives', () => {
    // predicted [0 0 0 0 0 0 0 1 | 1 0]: class 0 tp 7 of 8 predicted, 8 true; class 1 tp 1 of 2, 2.
    const targets = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1];
    const positive = [0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.25];
    const probabilities = positive.flatMap((p) => [1 - p, p]);
    const summary = classificationMetrics(probabilities, targets, 2);
    expect(summary.accuracy).toBe(0.8);
    expect(summary.perClass[0]).toEqual({
      precision: 7 / 8,
      recall: 7 / 8,
      f1: 7 / 8,
      support: 8,
      predicted: 8,
    });
    expect(summary.perClass[1]).toEqual({
      precision: 1 / 2,
      recall: 1 / 2,
      f1: 1 / 2,
      support: 2,
      predicted: 2,
    });
    expect(summary.macro.precision).toBeCloseTo((7 / 8 + 1 / 2) / 2, 12);
    expect(summary.macro.f1).toBeCloseTo(11 / 16, 12);
    expect(summary.weighted.recall).toBeCloseTo((8 * (7 / 8) + 2 * (1 / 2)) / 10, 12);
    expect(summary.micro.f1).toBeCloseTo(0.8, 12);
    // 8 samples with p(true) = 0.75, 2 with 0.25
    expect(summary.logLoss).toBeCloseTo(-(8 * Math.log(0.75) + 2 * Math.log(0.25)) / 10, 12);
  });

  it('imbalanced multi-class with tied runner-up scores', () => {
    // targets   0 0 0 0 1 1 2, predicted 0 0 0 1 1 2 2 (predicted class scores 0.5, others 0.25)
    // class 0: tp 3, predicted 3, support 4 -> P 1,   R 3/4, F1 6/7
    // class 1: tp 1, predicted 2, support 2 -> P 1/2, R 1/2, F1 1/2
    // class 2: tp 1, predicted 2, support 1 -> P 1/2, R 1,   F1 2/3
    const targets = [0, 0, 0, 0, 1, 1, 2];
    const predicted = [0, 0, 0, 1, 1, 2, 2];
    const probabilities = predicted.flatMap((p) => [0, 1, 2].map((c) => (c === p ? 0.5 : 0.25)));
    const summary = classificationMetrics(probabilities, targets, 3, { topK: [1, 2] });
    expect(summary.accuracy).toBeCloseTo(5 / 7, 12);
    expect(summary.perClass.map(({ precision, recall }) => [precision, recall])).toEqual([
      [1, 3 / 4],
      [1 / 2, 1 / 2],
      [1 / 2, 1],
    ]);
    expect(summary.perClass[0]!.f1).toBeCloseTo(6 / 7, 12);
    expect(summary.perClass[2]!.f1).toBeCloseTo(2 / 3, 12);
    expect(summary.macro.precision).toBeCloseTo(2 / 3, 12);
    expect(summary.macro.recall).toBeCloseTo(3 / 4, 12);
    expect(summary.macro.f1).toBeCloseTo((6 / 7 + 1 / 2 + 2 / 3) / 3, 12);
    expect(summary.weighted.precision).toBeCloseTo((4 * 1 + 2 * 0.5 + 1 * 0.5) / 7, 12);
    expect(summary.weighted.recall).toBeCloseTo(5 / 7, 12);
    expect(summary.weighted.f1).toBeCloseTo((4 * (6 / 7) + 2 * 0.5 + 2 / 3) / 7, 12);
    expect(summary.micro.precision).toBeCloseTo(5 / 7, 12);
    // Top-2: sample 3 (true 0, scores .25 .5 .25) is second; sample 5 (true 1, scores .25 .25 .5)
    // is third, behind class 2 and behind class 0, which ties with it and has the lower index.
    expect(summary.topKAccuracy[1]).toBeCloseTo(5 / 7, 12);
    expect(summary.topKAccuracy[2]).toBeCloseTo(6 / 7, 12);
    expect(summary.logLoss).toBeCloseTo(-(5 * Math.log(0.5) + 2 * Math.log(0.25)) / 7, 12);
  });

  it('a class absent from targets and predictions scores 0 and stays out of the macro mean', () => {
    const summary = classificationMetrics([0.9, 0.1, 0, 0.2, 0.8, 0], [0, 1], 3);
    expect(summary.perClass[2]).toEqual({
      precision: 0,
      recall: 0,
      f1: 0,
      support: 0,
      predicted: 0,
    });
    expect(summary.macro).toEqual({ precision: 1, recall: 1, f1: 1 });
  });

  it('refuses probabilities that do not match samples x classes', () => {
    expect(() => classificationMetrics([0.5, 0.5, 1], [0, 1], 2)).toThrow(/pass 4/);
  });
});

describe('ties', () => {
  it('argmax takes the first of equal scores; top-k ranks lower indices first', () => {
    expect(argmaxRow([0.5, 0.5], 0, 2)).toBe(0);
    expect(argmaxRow([0.1, 0.3, 0.3, 0.3], 0, 4)).toBe(1);
    const scores = [0.3, 0.3, 0.3, 0.1];
    expect(isInTopK(scores, 0, 4, 0, 1)).toBe(true);
    expect(isInTopK(scores, 0, 4, 1, 1)).toBe(false);
    expect(isInTopK(scores, 0, 4, 2, 2)).toBe(false);
    expect(isInTopK(scores, 0, 4, 2, 3)).toBe(true);
  });

  it('a sample whose true class ties for the top score counts only if it has the lowest index', () => {
    expect(classificationMetrics([0.5, 0.5, 0.5, 0.5], [0, 1], 2).accuracy).toBe(0.5);
  });
});
