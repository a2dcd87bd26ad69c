/**
 * Classification metrics from per-class probabilities and true class indices, as scikit-learn
 * computes them: accuracy, top-k accuracy, log loss, and precision, recall and F1 per class and
 * averaged (macro, micro, weighted).
 *
 * Ties: the predicted class is the first of the highest-scoring classes (numpy's argmax), and
 * top-k ranks classes by score, the lower index first among equal scores, so top-1 accuracy is
 * accuracy.
 */

/**
 * Probabilities are clipped to [ε, 1 − ε] before the logarithm, so one confident mistake gives a
 * large finite loss instead of infinity (scikit-learn's long-standing eps of 1e-15).
 */
export const LOG_LOSS_EPSILON = 1e-15;

export interface ClassScores {
  precision: number;
  recall: number;
  f1: number;
}

export interface PerClassScores extends ClassScores {
  /** Samples whose true class this is. */
  support: number;
  /** Samples predicted as this class. */
  predicted: number;
}

export interface ClassificationSummary {
  samples: number;
  classes: number;
  accuracy: number;
  /** Top-k accuracy by k, for the k asked for. */
  topKAccuracy: Record<number, number>;
  logLoss: number;
  perClass: PerClassScores[];
  /** Unweighted mean over the classes that occur in the targets or the predictions. */
  macro: ClassScores;
  /** From the counts summed over classes (equal to accuracy for single-label data). */
  micro: ClassScores;
  /** Mean over classes weighted by support. */
  weighted: ClassScores;
  /** The predicted class of every sample. */
  predictions: Int32Array;
}

export interface ClassificationOptions {
  /** The k of the top-k accuracies to compute (default none). */
  topK?: readonly number[];
}

/** The index of the highest value in row `row`; the first one when several are equal. */
export function argmaxRow(scores: ArrayLike<number>, row: number, classes: number): number {
  const offset = row * classes;
  let best = 0;
  for (let index = 1; index < classes; index++) {
    if (scores[offset + index]! > scores[offset + best]!) best = index;
  }
  return best;
}

/**
 * Whether `target` is among the k best classes of a row: the classes scoring strictly higher,
 * plus the equal-scoring ones with a lower index, number fewer than k.
 */
export function isInTopK(
  scores: ArrayLike<number>,
  row: number,
  classes: number,
  target: number,
  k: number,
): boolean {
  const offset = row * classes;
  const targetScore = scores[offset + target]!;
  let ahead = 0;
  for (let index = 0; index < classes; index++) {
    const score = scores[offset + index]!;
    if (score > targetScore || (score === targetScore && index < target)) ahead++;
  }
  return ahead < k;
}

function scoresFrom(truePositives: number, predicted: number, support: number): ClassScores {
  // scikit-learn's zero_division=0: a ratio with nothing to divide by counts as 0.
  const precision = predicted === 0 ? 0 : truePositives / predicted;
  const recall = support === 0 ? 0 : truePositives / support;
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { precision, recall, f1 };
}

/**
 * Metrics of `samples` predictions. `probabilities` holds `classes` values per sample (row after
 * row); `targets` the true class index of each sample.
 */
export function classificationMetrics(
  probabilities: ArrayLike<number>,
  targets: ArrayLike<number>,
  classes: number,
  options: ClassificationOptions = {},
): ClassificationSummary {
  const samples = targets.length;
  if (probabilities.length !== samples * classes) {
    throw new RangeError(
      `livestep: classificationMetrics got ${probabilities.length} probabilities for ${samples} samples of ${classes} classes; pass ${samples * classes}`,
    );
  }
  const topK = options.topK ?? [];
  const predictions = new Int32Array(samples);
  const truePositives = new Float64Array(classes);
  const support = new Float64Array(classes);
  const predictedCounts = new Float64Array(classes);
  const topKHits = topK.map(() => 0);
  let correct = 0;
  let logLossSum = 0;
  for (let row = 0; row < samples; row++) {
    const target = targets[row]!;
    const predicted = argmaxRow(probabilities, row, classes);
    predictions[row] = predicted;
    support[target]!++;
    predictedCounts[predicted]!++;
    if (predicted === target) {
      correct++;
      truePositives[target]!++;
    }
    topK.forEach((k, index) => {
      if (isInTopK(probabilities, row, classes, target, k)) topKHits[index]!++;
    });
    const probability = probabilities[row * classes + target]!;
    const clipped = Math.min(Math.max(probability, LOG_LOSS_EPSILON), 1 - LOG_LOSS_EPSILON);
    logLossSum -= Math.log(clipped);
  }

  const perClass: PerClassScores[] = [];
  const macroSum = { precision: 0, recall: 0, f1: 0 };
  const weightedSum = { precision: 0, recall: 0, f1: 0 };
  let presentClasses = 0;
  for (let index = 0; index < classes; index++) {
    const scores = scoresFrom(truePositives[index]!, predictedCounts[index]!, support[index]!);
    perClass.push({ ...scores, support: support[index]!, predicted: predictedCounts[index]! });
    if (support[index]! > 0 || predictedCounts[index]! > 0) {
      presentClasses++;
      for (const key of ['precision', 'recall', 'f1'] as const) {
        macroSum[key] += scores[key];
        weightedSum[key] += scores[key] * support[index]!;
      }
    }
  }
  const divide = (sum: ClassScores, by: number): ClassScores => ({
    precision: by === 0 ? 0 : sum.precision / by,
    recall: by === 0 ? 0 : sum.recall / by,
    f1: by === 0 ? 0 : sum.f1 / by,
  });
  const topKAccuracy: Record<number, number> = {};
  topK.forEach((k, index) => {
    topKAccuracy[k] = topKHits[index]! / samples;
  });
  return {
    samples,
    classes,
    accuracy: correct / samples,
    topKAccuracy,
    logLoss: logLossSum / samples,
    perClass,
    macro: divide(macroSum, presentClasses),
    micro: scoresFrom(correct, samples, samples),
    weighted: divide(weightedSum, samples),
    predictions,
  };
}
