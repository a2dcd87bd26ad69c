import { type PlotRow, precisionRecallCurve, rocCurve } from '@livestep/core';
import { describe, expect, it } from 'vitest';
import { rankingCurves } from './ranking-curves.js';

/** A seeded generator (Park-Miller), so a failure can be replayed. */
function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 16_807) % 2_147_483_647;
    return state / 2_147_483_647;
  };
}

/** `samples` scores of a classifier: positives about `separation` logits above negatives. */
function classifierScores(samples: number, separation: number, seed = 7) {
  const random = seededRandom(seed);
  const positive = Array.from({ length: samples }, () => random() < 1 / 3);
  const scores = Float32Array.from(positive, (isPositive) => {
    const logit = (isPositive ? separation : -separation) + 6 * (random() - 0.5);
    return 1 / (1 + Math.exp(-logit));
  });
  return { positive, scores };
}

/** Whether `point` lies on the segment from `from` to `to` (x, y columns), to rounding. */
function onSegment(point: PlotRow, from: PlotRow, to: PlotRow, x: string, y: string): boolean {
  const [px, py, ax, ay, bx, by] = [point[x], point[y], from[x], from[y], to[x], to[y]] as number[];
  const cross = (px! - ax!) * (by! - ay!) - (py! - ay!) * (bx! - ax!);
  const within =
    px! >= Math.min(ax!, bx!) - 1e-12 &&
    px! <= Math.max(ax!, bx!) + 1e-12 &&
    py! >= Math.min(ay!, by!) - 1e-12 &&
    py! <= Math.max(ay!, by!) + 1e-12;
  return Math.abs(cross) < 1e-12 && within;
}

/** Every row of `full` is kept, or lies between the kept rows around it (rows in the same order). */
function expectThinnedLosslessly(full: PlotRow[], kept: PlotRow[], x: string, y: string): void {
  let next = 0;
  for (const row of full) {
    if (next < kept.length && row.threshold === kept[next]!.threshold) {
      expect(row).toEqual(kept[next]);
      next++;
      continue;
    }
    expect(onSegment(row, kept[next - 1]!, kept[next]!, x, y)).toBe(true);
  }
  expect(next).toBe(kept.length);
}

describe('rankingCurves', () => {
  it("gives core's rows when no point can be dropped", () => {
    const positive = [true, false, true, false];
    const scores = [0.9, 0.8, 0.8, 0.1];
    const curves = rankingCurves(positive, scores);
    expect(curves.roc).toEqual(rocCurve(positive, scores).rows);
    expect(curves.precisionRecall).toEqual(precisionRecallCurve(positive, scores).rows);
  });

  it("ROC-AUC and average precision as scikit-learn's roc_auc_score and average_precision_score", () => {
    // 8 negatives, 2 positives; p 0.75 for one of each, 0.25 for the rest (ties count half).
    const positive = [...Array(8).fill(false), true, true];
    const scores = [0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.25];
    const curves = rankingCurves(positive, scores);
    expect(curves.rocAuc).toBe(11 / 16);
    expect(curves.averagePrecision).toBeCloseTo(0.35, 15);
    // [0.1, 0.4, 0.35, 0.8] with targets [0, 0, 1, 1]: scikit-learn's documented examples
    const documented = rankingCurves([false, false, true, true], [0.1, 0.4, 0.35, 0.8]);
    expect(documented.rocAuc).toBe(0.75);
    expect(documented.averagePrecision).toBeCloseTo(0.8333333333333333, 15);
  });

  it('has no ROC-AUC without both classes, and no average precision without positives', () => {
    expect(rankingCurves([true, true], [0.2, 0.9])).toMatchObject({
      rocAuc: undefined,
      averagePrecision: 1,
    });
    expect(rankingCurves([false, false], [0.2, 0.9])).toMatchObject({
      rocAuc: undefined,
      averagePrecision: undefined,
    });
  });

  it('thins a curve to the points that change its shape, as DVCLive does', () => {
    // Perfectly separated: up the left edge, then along the top: 3 ROC points of 1,001.
    const positive = Array.from({ length: 1000 }, (_, index) => index < 400);
    const scores = Array.from({ length: 1000 }, (_, index) => 1 - index / 1000);
    const perfect = rankingCurves(positive, scores);
    expect(perfect.points).toBe(1001);
    expect(perfect.roc).toEqual([
      { fpr: 0, tpr: 0, threshold: 'inf' },
      { fpr: 0, tpr: 1, threshold: 1 - 399 / 1000 },
      { fpr: 1, tpr: 1, threshold: 1 - 999 / 1000 },
    ]);
    expect(perfect.precisionRecall).toEqual([
      { precision: 0.4, recall: 1, threshold: 1 - 999 / 1000 },
      { precision: 1, recall: 1, threshold: 1 - 399 / 1000 },
      { precision: 1, recall: 1 / 400, threshold: 1 },
    ]);
    expect(perfect.rocAuc).toBe(1);
    expect(perfect.averagePrecision).toBe(1);
  });

  it('drops only points on a straight line between the kept ones (50,000 samples)', () => {
    const { positive, scores } = classifierScores(50_000, 2);
    const curves = rankingCurves(positive, scores);
    const fullRoc = rocCurve(positive, scores).rows;
    const fullPrecisionRecall = precisionRecallCurve(positive, scores).rows;
    expectThinnedLosslessly(fullRoc, curves.roc, 'fpr', 'tpr');
    expectThinnedLosslessly(fullPrecisionRecall, curves.precisionRecall, 'recall', 'precision');
    // A good classifier (ROC-AUC ~0.95) keeps about a sixth of its ROC points.
    expect(curves.rocAuc).toBeGreaterThan(0.9);
    expect(curves.roc.length).toBeLessThan(fullRoc.length / 4);
    expect(curves.precisionRecall.length).toBeLessThan(fullPrecisionRecall.length / 3);
  });
});
