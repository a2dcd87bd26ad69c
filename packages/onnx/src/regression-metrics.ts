/**
 * Regression metrics as scikit-learn computes them: MAE, MSE, RMSE and R², each per output and
 * averaged uniformly over the outputs (`multioutput="uniform_average"`). Accumulated batch by
 * batch in O(outputs) memory.
 */

export interface RegressionSummary {
  samples: number;
  /** Values per sample. */
  outputs: number;
  meanAbsoluteError: number;
  meanSquaredError: number;
  /** The mean over outputs of each output's root mean squared error. */
  rootMeanSquaredError: number;
  /** Coefficient of determination; 1 for perfect predictions of a constant target, else 0 for one. */
  r2: number;
}

export interface RegressionAccumulator {
  /** Adds a batch: `predictions` and `targets` hold `outputs` values per sample, sample after sample. */
  add(predictions: ArrayLike<number>, targets: ArrayLike<number>): void;
  summary(): RegressionSummary;
}

export function createRegressionAccumulator(outputs: number): RegressionAccumulator {
  let samples = 0;
  const absoluteErrors = new Float64Array(outputs);
  const squaredErrors = new Float64Array(outputs);
  // Welford's running mean and sum of squared deviations of the targets, for R²'s denominator.
  const targetMeans = new Float64Array(outputs);
  const targetDeviations = new Float64Array(outputs);
  return {
    add(predictions, targets) {
      const rows = targets.length / outputs;
      for (let row = 0; row < rows; row++) {
        samples++;
        for (let output = 0; output < outputs; output++) {
          const index = row * outputs + output;
          const target = targets[index]!;
          const error = predictions[index]! - target;
          absoluteErrors[output]! += Math.abs(error);
          squaredErrors[output]! += error * error;
          const delta = target - targetMeans[output]!;
          targetMeans[output]! += delta / samples;
          targetDeviations[output]! += delta * (target - targetMeans[output]!);
        }
      }
    },
    summary() {
      let meanAbsoluteError = 0;
      let meanSquaredError = 0;
      let rootMeanSquaredError = 0;
      let r2 = 0;
      for (let output = 0; output < outputs; output++) {
        const mse = squaredErrors[output]! / samples;
        meanAbsoluteError += absoluteErrors[output]! / samples;
        meanSquaredError += mse;
        rootMeanSquaredError += Math.sqrt(mse);
        const total = targetDeviations[output]!;
        const residual = squaredErrors[output]!;
        // scikit-learn's force_finite: a constant target gives 1 when predicted exactly, else 0.
        r2 += total === 0 ? (residual === 0 ? 1 : 0) : 1 - residual / total;
      }
      return {
        samples,
        outputs,
        meanAbsoluteError: meanAbsoluteError / outputs,
        meanSquaredError: meanSquaredError / outputs,
        rootMeanSquaredError: rootMeanSquaredError / outputs,
        r2: r2 / outputs,
      };
    },
  };
}

/** Regression metrics of all predictions at once. */
export function regressionMetrics(
  predictions: ArrayLike<number>,
  targets: ArrayLike<number>,
  outputs = 1,
): RegressionSummary {
  const accumulator = createRegressionAccumulator(outputs);
  accumulator.add(predictions, targets);
  return accumulator.summary();
}
