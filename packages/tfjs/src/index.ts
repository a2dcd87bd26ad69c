/**
 * @livestep/tfjs: one callback on TensorFlow.js `model.fit` / `model.fitDataset` records params,
 * metrics per epoch (and per batch if asked), weight histograms, classifier plots and the run's
 * status with livestep.
 *
 *   import { livestepCallback } from '@livestep/tfjs';
 *   await model.fit(x, y, { epochs: 20, validationSplit: 0.2, callbacks: [livestepCallback()] });
 */
export {
  EVALUATION_PLOTS,
  type EvaluationLabels,
  type EvaluationOptions,
  type EvaluationPlot,
} from './evaluation-plots.js';
export {
  LivestepCallback,
  type LivestepCallbackOptions,
  livestepCallback,
} from './livestep-callback.js';
export { DEFAULT_HISTOGRAM_BINS } from './weight-histograms.js';
