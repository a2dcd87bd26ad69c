/**
 * The ROC and precision-recall curves of one positive class, with the areas under them, from one
 * sort of the scores, as scikit-learn computes them:
 *
 * - ROC rows {fpr, tpr, threshold} from (0, 0, "inf"), one point per distinct score, highest
 *   first (core's rocCurve); ROC-AUC by the trapezoidal rule over them (roc_auc_score: ties
 *   count half).
 * - precision-recall rows {precision, recall, threshold} from the lowest threshold (core's
 *   precisionRecallCurve); average precision, the sum over thresholds of the recall gained times
 *   the precision there (average_precision_score: a step function, no interpolation), which is
 *   the PR-AUC estimate that is not optimistic.
 *
 * Both curves are thinned to the points that change their shape: a point on the straight line
 * between its neighbours is dropped, as scikit-learn's roc_curve does by default
 * (`drop_intermediate`), and so DVCLive's plots. Nothing drawn changes, and the areas are
 * computed from every point. A run of samples of one class (same direction) is one segment, so
 * a good classifier of 50,000 samples keeps a few thousand points instead of 50,000.
 */
import type { PlotRow } from '@livestep/core';

export interface RankingCurves {
  /** ROC rows, thinned. */
  roc: PlotRow[];
  /** Precision-recall rows, thinned. */
  precisionRecall: PlotRow[];
  /** Area under the ROC curve; undefined when the targets hold only positives or only negatives. */
  rocAuc: number | undefined;
  /** Average precision; undefined when the targets hold no positive. */
  averagePrecision: number | undefined;
  /** Points of the curves before thinning (distinct scores, plus ROC's start). */
  points: number;
}

/**
 * The curves of `scores` for the samples where `positive` is true. Scores must be finite (the
 * caller checked the model's outputs).
 */
export function rankingCurves(
  positive: ArrayLike<boolean>,
  scores: ArrayLike<number>,
): RankingCurves {
  const order = Array.from({ length: scores.length }, (_, index) => index).sort(
    (left, right) => scores[right]! - scores[left]!,
  );
  // Cumulative true and false positives at each distinct score, highest first; (0, 0) first.
  const truePositives: number[] = [0];
  const falsePositives: number[] = [0];
  const thresholds: number[] = [Number.POSITIVE_INFINITY];
  let tp = 0;
  let fp = 0;
  for (let rank = 0; rank < order.length; rank++) {
    const index = order[rank]!;
    if (positive[index]) tp++;
    else fp++;
    const next = order[rank + 1];
    // Tied scores move together: a point only after the last sample of a score.
    if (next === undefined || scores[next] !== scores[index]) {
      truePositives.push(tp);
      falsePositives.push(fp);
      thresholds.push(scores[index]!);
    }
  }
  const positives = tp;
  const negatives = fp;
  const points = truePositives.length;

  let rocArea = 0;
  let precisionSum = 0;
  for (let point = 1; point < points; point++) {
    const gainedPositives = truePositives[point]! - truePositives[point - 1]!;
    rocArea +=
      ((falsePositives[point]! - falsePositives[point - 1]!) *
        (truePositives[point]! + truePositives[point - 1]!)) /
      2;
    precisionSum +=
      (gainedPositives * truePositives[point]!) / (truePositives[point]! + falsePositives[point]!);
  }

  const rate = (count: number, total: number) => (total === 0 ? 0 : count / total);
  const roc: PlotRow[] = [];
  for (const point of keptRocPoints(truePositives, falsePositives)) {
    roc.push({
      fpr: rate(falsePositives[point]!, negatives),
      tpr: rate(truePositives[point]!, positives),
      threshold: point === 0 ? 'inf' : thresholds[point]!,
    });
  }
  const precisionRecall: PlotRow[] = [];
  for (const point of keptPrecisionRecallPoints(truePositives, falsePositives)) {
    const predicted = truePositives[point]! + falsePositives[point]!;
    precisionRecall.push({
      precision: predicted === 0 ? 1 : truePositives[point]! / predicted,
      recall: rate(truePositives[point]!, positives),
      threshold: thresholds[point]!,
    });
  }
  precisionRecall.reverse();

  return {
    roc,
    precisionRecall,
    rocAuc: positives === 0 || negatives === 0 ? undefined : rocArea / (positives * negatives),
    averagePrecision: positives === 0 ? undefined : precisionSum / positives,
    points,
  };
}

/** The ROC points (indices) not on the straight line between the kept one before and the next. */
function keptRocPoints(truePositives: number[], falsePositives: number[]): number[] {
  const last = truePositives.length - 1;
  const kept = [0];
  for (let point = 1; point < last; point++) {
    const before = kept.at(-1)!;
    // Collinear in counts is collinear in rates: both axes are counts over a constant.
    const cross =
      (falsePositives[point]! - falsePositives[before]!) *
        (truePositives[point + 1]! - truePositives[point]!) -
      (truePositives[point]! - truePositives[before]!) *
        (falsePositives[point + 1]! - falsePositives[point]!);
    if (cross !== 0) kept.push(point);
  }
  if (last > 0) kept.push(last);
  return kept;
}

/**
 * The precision-recall points (indices, from the first distinct score on) that change the
 * curve's shape: a point is dropped when it and its neighbours share the recall (only negatives
 * in between: a vertical drop) or the precision (a horizontal run), both exact in counts.
 */
function keptPrecisionRecallPoints(truePositives: number[], falsePositives: number[]): number[] {
  const last = truePositives.length - 1;
  const predicted = (point: number) => truePositives[point]! + falsePositives[point]!;
  const samePrecision = (left: number, right: number) =>
    truePositives[left]! * predicted(right) === truePositives[right]! * predicted(left);
  const kept: number[] = [];
  for (let point = 1; point <= last; point++) {
    const before = kept.at(-1);
    if (before !== undefined && point < last) {
      const next = point + 1;
      const sameRecall =
        truePositives[before] === truePositives[point] &&
        truePositives[point] === truePositives[next];
      if (sameRecall || (samePrecision(before, point) && samePrecision(point, next))) continue;
    }
    kept.push(point);
  }
  return kept;
}
