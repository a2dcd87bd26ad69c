/**
 * ROC, precision-recall and calibration curves as plot rows, in the shape and order of
 * @livestep/core's curve functions (scikit-learn's, and so DVCLive's): one curve per positive
 * class, binary or one-vs-rest.
 *
 * Core's `rocCurve`, `precisionRecallCurve` and `calibrationCurve` are not exported from its
 * public entry yet; these compute the same rows and can be swapped for them when they are.
 */
import type { PlotInput, PlotRow } from '@livestep/core';

/** Bins of a calibration curve: scikit-learn's calibration_curve default, as in core. */
export const DEFAULT_CALIBRATION_BINS = 5;

interface ThresholdCounts {
  threshold: number;
  truePositives: number;
  falsePositives: number;
}

/** Cumulative true and false positives at each distinct score, highest score first. */
function countsByThreshold(
  positives: ArrayLike<boolean>,
  scores: ArrayLike<number>,
): { points: ThresholdCounts[]; positives: number; negatives: number } {
  const order = Array.from({ length: scores.length }, (_, index) => index).sort(
    (left, right) => scores[right]! - scores[left]!,
  );
  const points: ThresholdCounts[] = [];
  let truePositives = 0;
  let falsePositives = 0;
  order.forEach((sample, rank) => {
    if (positives[sample]) truePositives++;
    else falsePositives++;
    const next = order[rank + 1];
    // Equal scores pass a threshold together: one point after the last of them.
    if (next === undefined || scores[next] !== scores[sample]) {
      points.push({ threshold: scores[sample]!, truePositives, falsePositives });
    }
  });
  return { points, positives: truePositives, negatives: falsePositives };
}

const ratio = (count: number, total: number) => (total === 0 ? 0 : count / total);

/** Rows {fpr, tpr, threshold}: (0, 0) at threshold "inf", then one per distinct score, highest first. */
export function rocRows(positives: ArrayLike<boolean>, scores: ArrayLike<number>): PlotRow[] {
  const counts = countsByThreshold(positives, scores);
  return [
    { fpr: 0, tpr: 0, threshold: 'inf' },
    ...counts.points.map((point) => ({
      fpr: ratio(point.falsePositives, counts.negatives),
      tpr: ratio(point.truePositives, counts.positives),
      threshold: point.threshold,
    })),
  ];
}

/** Rows {precision, recall, threshold}: one per distinct score, lowest threshold first. */
export function precisionRecallRows(
  positives: ArrayLike<boolean>,
  scores: ArrayLike<number>,
): PlotRow[] {
  const counts = countsByThreshold(positives, scores);
  return counts.points
    .map((point) => {
      const predicted = point.truePositives + point.falsePositives;
      return {
        precision: predicted === 0 ? 1 : point.truePositives / predicted,
        recall: ratio(point.truePositives, counts.positives),
        threshold: point.threshold,
      };
    })
    .reverse();
}

/**
 * Rows {prob_true, prob_pred}: scores in `bins` equal-width bins over [0, 1]; per non-empty bin,
 * the fraction of positives and the mean score.
 */
export function calibrationRows(
  positives: ArrayLike<boolean>,
  scores: ArrayLike<number>,
  bins = DEFAULT_CALIBRATION_BINS,
): PlotRow[] {
  const sums = new Float64Array(bins);
  const positiveCounts = new Float64Array(bins);
  const counts = new Float64Array(bins);
  for (let index = 0; index < scores.length; index++) {
    const bin = Math.min(Math.max(Math.floor(scores[index]! * bins), 0), bins - 1);
    sums[bin]! += scores[index]!;
    counts[bin]!++;
    if (positives[index]) positiveCounts[bin]!++;
  }
  const rows: PlotRow[] = [];
  for (let bin = 0; bin < bins; bin++) {
    if (counts[bin] === 0) continue;
    rows.push({
      prob_true: positiveCounts[bin]! / counts[bin]!,
      prob_pred: sums[bin]! / counts[bin]!,
    });
  }
  return rows;
}

export interface ClassCurves {
  /** The positive class's index. */
  positiveClass: number;
  roc: PlotInput;
  precisionRecall: PlotInput;
  calibration: PlotInput;
}

/**
 * The curves of a classifier: for two classes one set, with class `positiveClass` (default 1) as
 * the positive one; for more, one set per class against the rest.
 */
export function classifierCurves(
  probabilities: ArrayLike<number>,
  targets: ArrayLike<number>,
  classes: number,
  options: { positiveClass?: number; calibrationBins?: number } = {},
): ClassCurves[] {
  const positiveClasses =
    classes === 2
      ? [options.positiveClass ?? 1]
      : Array.from({ length: classes }, (_, index) => index);
  return positiveClasses.map((positiveClass) => {
    const positives = Array.from(targets, (target) => target === positiveClass);
    const scores = new Float64Array(targets.length);
    for (let row = 0; row < targets.length; row++) {
      scores[row] = probabilities[row * classes + positiveClass]!;
    }
    return {
      positiveClass,
      roc: { kind: 'roc', rows: rocRows(positives, scores), x: 'fpr', y: 'tpr' },
      precisionRecall: {
        kind: 'pr',
        rows: precisionRecallRows(positives, scores),
        x: 'recall',
        y: 'precision',
      },
      calibration: {
        kind: 'calibration',
        rows: calibrationRows(positives, scores, options.calibrationBins),
        x: 'prob_pred',
        y: 'prob_true',
      },
    };
  });
}
