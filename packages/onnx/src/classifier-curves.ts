/**
 * The ROC, precision-recall and calibration curves of a classifier, from @livestep/core's curve
 * functions (scikit-learn's, and so DVCLive's): one set for a binary classifier, one set per
 * class against the rest for a multi-class one.
 */
import { calibrationCurve, type PlotInput, precisionRecallCurve, rocCurve } from '@livestep/core';

export { DEFAULT_CALIBRATION_BINS } from '@livestep/core';

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
    // Softmax can round a probability a hair past 1: keep calibration's input in [0, 1].
    const probabilitiesInRange = scores.map((score) => Math.min(1, Math.max(0, score)));
    return {
      positiveClass,
      roc: rocCurve(positives, scores),
      precisionRecall: precisionRecallCurve(positives, scores),
      calibration: calibrationCurve(positives, probabilitiesInRange, {
        ...(options.calibrationBins !== undefined && { bins: options.calibrationBins }),
      }),
    };
  });
}
