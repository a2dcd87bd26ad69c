/**
 * Classifier curves as plot data: ROC, precision-recall and calibration, computed the way
 * scikit-learn (and so DVCLive) computes them, for binary labels and scores. For multi-class
 * models, call them once per class (one-vs-rest) with `labels[i] === class` as the positives.
 */
import type { PlotInput } from '../run/plot-input.js';

/** Bins of a calibration curve by default, as scikit-learn's calibration_curve. */
export const DEFAULT_CALIBRATION_BINS = 5;

function checkInputs(
  what: string,
  labels: ArrayLike<number | boolean>,
  scores: ArrayLike<number>,
): void {
  if (labels.length !== scores.length) {
    throw new RangeError(
      `livestep: ${what} got ${labels.length} labels and ${scores.length} scores; pass one score per sample`,
    );
  }
  for (let index = 0; index < scores.length; index++) {
    if (!Number.isFinite(scores[index])) {
      throw new RangeError(
        `livestep: ${what} score ${index} is ${scores[index]}; scores must be finite numbers`,
      );
    }
  }
}

const isPositive = (label: number | boolean) => label === true || label === 1;

/**
 * Cumulative true and false positives at each distinct score, from the highest score down: the
 * points where a threshold `score >= t` changes the confusion counts.
 */
function cumulativeCounts(
  labels: ArrayLike<number | boolean>,
  scores: ArrayLike<number>,
): {
  thresholds: number[];
  truePositives: number[];
  falsePositives: number[];
  positives: number;
  negatives: number;
} {
  const order = Array.from({ length: scores.length }, (_, index) => index).sort(
    (left, right) => scores[right]! - scores[left]!,
  );
  const thresholds: number[] = [];
  const truePositives: number[] = [];
  const falsePositives: number[] = [];
  let tp = 0;
  let fp = 0;
  for (let rank = 0; rank < order.length; rank++) {
    const index = order[rank]!;
    if (isPositive(labels[index]!)) tp++;
    else fp++;
    const next = order[rank + 1];
    // Tied scores move together: record a point only after the last sample of a score.
    if (next === undefined || scores[next] !== scores[index]) {
      thresholds.push(scores[index]!);
      truePositives.push(tp);
      falsePositives.push(fp);
    }
  }
  return { thresholds, truePositives, falsePositives, positives: tp, negatives: fp };
}

/**
 * ROC curve: rows {fpr, tpr, threshold}, starting at (0, 0) with threshold "inf" and adding one
 * point per distinct score, highest first.
 */
export function rocCurve(
  labels: ArrayLike<number | boolean>,
  scores: ArrayLike<number>,
  options: { step?: number; title?: string } = {},
): PlotInput {
  checkInputs('rocCurve', labels, scores);
  const counts = cumulativeCounts(labels, scores);
  const rate = (count: number, total: number) => (total === 0 ? 0 : count / total);
  const rows: PlotInput['rows'] = [{ fpr: 0, tpr: 0, threshold: 'inf' }];
  counts.thresholds.forEach((threshold, index) => {
    rows.push({
      fpr: rate(counts.falsePositives[index]!, counts.negatives),
      tpr: rate(counts.truePositives[index]!, counts.positives),
      threshold,
    });
  });
  return withOptions({ kind: 'roc', rows, x: 'fpr', y: 'tpr' }, options);
}

/**
 * Precision-recall curve: rows {precision, recall, threshold}, one per distinct score, from the
 * lowest threshold (recall 1) to the highest, as scikit-learn orders them.
 */
export function precisionRecallCurve(
  labels: ArrayLike<number | boolean>,
  scores: ArrayLike<number>,
  options: { step?: number; title?: string } = {},
): PlotInput {
  checkInputs('precisionRecallCurve', labels, scores);
  const counts = cumulativeCounts(labels, scores);
  const rows: PlotInput['rows'] = counts.thresholds.map((threshold, index) => {
    const tp = counts.truePositives[index]!;
    const predicted = tp + counts.falsePositives[index]!;
    return {
      precision: predicted === 0 ? 1 : tp / predicted,
      recall: counts.positives === 0 ? 0 : tp / counts.positives,
      threshold,
    };
  });
  rows.reverse();
  return withOptions({ kind: 'pr', rows, x: 'recall', y: 'precision' }, options);
}

/**
 * Calibration curve: scores split into `bins` equal-width bins over [0, 1]; for each non-empty
 * bin, the mean score (prob_pred) and the fraction of positives (prob_true).
 */
export function calibrationCurve(
  labels: ArrayLike<number | boolean>,
  scores: ArrayLike<number>,
  options: { bins?: number; step?: number; title?: string } = {},
): PlotInput {
  checkInputs('calibrationCurve', labels, scores);
  const bins = options.bins ?? DEFAULT_CALIBRATION_BINS;
  if (!Number.isInteger(bins) || bins < 1) {
    throw new RangeError(`livestep: calibrationCurve bins is ${bins}; pass an integer >= 1`);
  }
  const sums = new Array<number>(bins).fill(0);
  const positives = new Array<number>(bins).fill(0);
  const counts = new Array<number>(bins).fill(0);
  for (let index = 0; index < scores.length; index++) {
    const score = scores[index]!;
    if (score < 0 || score > 1) {
      throw new RangeError(
        `livestep: calibrationCurve score ${index} is ${score}; pass probabilities in [0, 1]`,
      );
    }
    const bin = Math.min(Math.floor(score * bins), bins - 1);
    sums[bin]! += score;
    counts[bin]!++;
    if (isPositive(labels[index]!)) positives[bin]!++;
  }
  const rows: PlotInput['rows'] = [];
  for (let bin = 0; bin < bins; bin++) {
    if (counts[bin] === 0) continue;
    rows.push({ prob_true: positives[bin]! / counts[bin]!, prob_pred: sums[bin]! / counts[bin]! });
  }
  return withOptions({ kind: 'calibration', rows, x: 'prob_pred', y: 'prob_true' }, options);
}

function withOptions(plot: PlotInput, options: { step?: number; title?: string }): PlotInput {
  if (options.step !== undefined) plot.step = options.step;
  if (options.title !== undefined) plot.title = options.title;
  return plot;
}
