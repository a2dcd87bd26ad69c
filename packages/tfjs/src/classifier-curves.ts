/**
 * ROC and precision-recall curves as plot data, computed as scikit-learn (and so DVCLive) does.
 *
 * Stop-gap: @livestep/core has these as `rocCurve` and `precisionRecallCurve` (src/curves.ts) but
 * its index does not export them yet. Same names, arguments and output, so switching to the core
 * import is a one-line change once core exports them.
 */
import type { PlotInput, PlotRow } from '@livestep/core';

interface CurveOptions {
  step?: number;
  title?: string;
}

/** True and false positive counts at each distinct score, highest score first. */
function thresholdCounts(
  labels: ArrayLike<boolean | number>,
  scores: ArrayLike<number>,
): { thresholds: number[]; truePositives: number[]; falsePositives: number[] } {
  if (labels.length !== scores.length) {
    throw new RangeError(
      `livestep: a classifier curve got ${labels.length} labels and ${scores.length} scores; pass one score per sample`,
    );
  }
  const order = Array.from({ length: scores.length }, (_, index) => index);
  order.sort((left, right) => scores[right]! - scores[left]!);
  const thresholds: number[] = [];
  const truePositives: number[] = [];
  const falsePositives: number[] = [];
  let positives = 0;
  let negatives = 0;
  order.forEach((sample, rank) => {
    const label = labels[sample];
    if (label === true || label === 1) positives++;
    else negatives++;
    const following = order[rank + 1];
    // Samples with the same score cross a threshold together.
    if (following === undefined || scores[following] !== scores[sample]) {
      thresholds.push(scores[sample]!);
      truePositives.push(positives);
      falsePositives.push(negatives);
    }
  });
  return { thresholds, truePositives, falsePositives };
}

function finish(plot: PlotInput, options: CurveOptions): PlotInput {
  if (options.step !== undefined) plot.step = options.step;
  if (options.title !== undefined) plot.title = options.title;
  return plot;
}

/** Rows `{fpr, tpr, threshold}` from (0, 0) at threshold "inf", one per distinct score. */
export function rocCurve(
  labels: ArrayLike<boolean | number>,
  scores: ArrayLike<number>,
  options: CurveOptions = {},
): PlotInput {
  const { thresholds, truePositives, falsePositives } = thresholdCounts(labels, scores);
  const allPositives = truePositives.at(-1) ?? 0;
  const allNegatives = falsePositives.at(-1) ?? 0;
  const rows: PlotRow[] = [{ fpr: 0, tpr: 0, threshold: 'inf' }];
  thresholds.forEach((threshold, index) => {
    rows.push({
      fpr: allNegatives === 0 ? 0 : falsePositives[index]! / allNegatives,
      tpr: allPositives === 0 ? 0 : truePositives[index]! / allPositives,
      threshold,
    });
  });
  return finish({ kind: 'roc', rows, x: 'fpr', y: 'tpr' }, options);
}

/** Rows `{precision, recall, threshold}`, from the lowest threshold (recall 1) up. */
export function precisionRecallCurve(
  labels: ArrayLike<boolean | number>,
  scores: ArrayLike<number>,
  options: CurveOptions = {},
): PlotInput {
  const { thresholds, truePositives, falsePositives } = thresholdCounts(labels, scores);
  const allPositives = truePositives.at(-1) ?? 0;
  const rows: PlotRow[] = thresholds.map((threshold, index) => {
    const predictedPositive = truePositives[index]! + falsePositives[index]!;
    return {
      precision: predictedPositive === 0 ? 1 : truePositives[index]! / predictedPositive,
      recall: allPositives === 0 ? 0 : truePositives[index]! / allPositives,
      threshold,
    };
  });
  rows.reverse();
  return finish({ kind: 'pr', rows, x: 'recall', y: 'precision' }, options);
}
