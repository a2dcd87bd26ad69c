import type { PlotInput } from '../run/plot-input.js';

export interface ConfusionMatrixOptions {
  /** Names for class indices (`labels[2]` for class 2); default: the values as they are. */
  labels?: readonly string[];
  step?: number;
  title?: string;
}

/**
 * A confusion matrix plot from actual and predicted classes (indices or names): one row per
 * (actual, predicted) pair that occurs, with its count.
 */
export function confusionMatrix(
  actual: ArrayLike<number | string>,
  predicted: ArrayLike<number | string>,
  options: ConfusionMatrixOptions = {},
): PlotInput {
  if (actual.length !== predicted.length) {
    throw new RangeError(
      `livestep: confusionMatrix got ${actual.length} actual and ${predicted.length} predicted values; pass one prediction per sample`,
    );
  }
  const name = (value: number | string) =>
    typeof value === 'number' && options.labels?.[value] !== undefined
      ? options.labels[value]!
      : String(value);
  const counts = new Map<string, { actual: string; predicted: string; count: number }>();
  for (let index = 0; index < actual.length; index++) {
    const pair = { actual: name(actual[index]!), predicted: name(predicted[index]!) };
    const key = `${pair.actual}\u0000${pair.predicted}`;
    const entry = counts.get(key);
    if (entry) entry.count++;
    else counts.set(key, { ...pair, count: 1 });
  }
  const plot: PlotInput = {
    kind: 'confusion',
    rows: [...counts.values()],
    x: 'actual',
    y: 'predicted',
  };
  if (options.step !== undefined) plot.step = options.step;
  if (options.title !== undefined) plot.title = options.title;
  return plot;
}
