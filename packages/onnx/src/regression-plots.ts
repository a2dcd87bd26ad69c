/**
 * The plots of a regression, as scikit-learn's PredictionErrorDisplay draws them: predicted
 * against actual values (a perfect model is the diagonal), and residuals (actual − predicted)
 * against the predicted values (a good model scatters evenly around 0). Scatter plots as data:
 * the directory sink writes them to `plots/custom/` with DVC's scatter template.
 */
import type { PlotInput, PlotRow } from '@livestep/core';

/**
 * Points in each plot at most: enough to see the shape of millions of samples, small enough
 * that the files stay well under a megabyte. Larger evaluations are sampled evenly.
 */
export const MAX_REGRESSION_PLOT_POINTS = 10_000;

/** What a regression keeps for its plots: the predicted and true values, batch after batch. */
export interface RegressionPlotData {
  add(predictions: Float64Array, targets: Float64Array): void;
  /** For each output (value per sample): the two plots. */
  plots(): Array<{ output: number; predictedVsActual: PlotInput; residuals: PlotInput }>;
}

export function createRegressionPlotData(outputs: number): RegressionPlotData {
  const predictionParts: Float64Array[] = [];
  const targetParts: Float64Array[] = [];
  let values = 0;
  return {
    add(predictions, targets) {
      predictionParts.push(predictions);
      targetParts.push(targets);
      values += predictions.length;
    },
    plots() {
      const predictions = joined(predictionParts, values);
      const targets = joined(targetParts, values);
      const samples = values / outputs;
      const shown = Math.min(samples, MAX_REGRESSION_PLOT_POINTS);
      return Array.from({ length: outputs }, (_, output) => {
        const predictedVsActual: PlotRow[] = [];
        const residuals: PlotRow[] = [];
        for (let point = 0; point < shown; point++) {
          // Evenly spaced over the samples, first and last included.
          const sample = shown === 1 ? 0 : Math.round((point * (samples - 1)) / (shown - 1));
          const actual = targets[sample * outputs + output]!;
          const predicted = predictions[sample * outputs + output]!;
          predictedVsActual.push({ actual, predicted });
          residuals.push({ predicted, residual: actual - predicted });
        }
        return {
          output,
          predictedVsActual: {
            kind: 'scatter',
            rows: predictedVsActual,
            x: 'actual',
            y: 'predicted',
            title: 'Predicted vs actual',
          },
          residuals: {
            kind: 'scatter',
            rows: residuals,
            x: 'predicted',
            y: 'residual',
            title: 'Residuals (actual - predicted)',
          },
        };
      });
    },
  };
}

function joined(parts: Float64Array[], length: number): Float64Array {
  const all = new Float64Array(length);
  let offset = 0;
  for (const part of parts) {
    all.set(part, offset);
    offset += part.length;
  }
  return all;
}
