/**
 * The ROC, precision-recall and calibration curves of a classifier, with ROC-AUC and average
 * precision: one set for a binary classifier, one set per class against the rest for a
 * multi-class one. ROC and precision-recall come from one sort of the scores (ranking-curves.ts,
 * the rows @livestep/core's curve functions give, thinned); calibration from core.
 */
import { calibrationCurve, type PlotInput } from '@livestep/core';
import { rankingCurves } from './ranking-curves.js';

export { DEFAULT_CALIBRATION_BINS } from '@livestep/core';

export interface ClassCurves {
  /** The positive class's index. */
  positiveClass: number;
  roc: PlotInput;
  precisionRecall: PlotInput;
  calibration: PlotInput;
  /** Area under the ROC curve; undefined when the class is in none or all of the targets. */
  rocAuc: number | undefined;
  /** Average precision (PR-AUC); undefined when the class is in none of the targets. */
  averagePrecision: number | undefined;
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
    // Softmax can round a probability a hair past 1: keep calibration's input in [0, 1].
    const probabilitiesInRange = scores.map((score) => Math.min(1, Math.max(0, score)));
    const ranking = rankingCurves(positives, scores);
    return {
      positiveClass,
      roc: { kind: 'roc', rows: ranking.roc, x: 'fpr', y: 'tpr' },
      precisionRecall: { kind: 'pr', rows: ranking.precisionRecall, x: 'recall', y: 'precision' },
      calibration: calibrationCurve(positives, probabilitiesInRange, {
        ...(options.calibrationBins !== undefined && { bins: options.calibrationBins }),
      }),
      rocAuc: ranking.rocAuc,
      averagePrecision: ranking.averagePrecision,
    };
  });
}
