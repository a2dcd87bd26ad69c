/**
 * Classifier plots on data the user gives: a confusion matrix, ROC and precision-recall curves,
 * computed with @livestep/core from the model's predictions at train end. Binary models (one
 * sigmoid unit, or two classes) get one plot of each; multi-class models get one confusion
 * matrix and one-vs-rest ROC and PR curves per class (`roc/<class>`, `precision_recall/<class>`).
 */
import { confusionMatrix, type PlotInput, precisionRecallCurve, rocCurve } from '@livestep/core';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';

export type EvaluationPlot = 'confusion' | 'roc' | 'pr';

export const EVALUATION_PLOTS: readonly EvaluationPlot[] = ['confusion', 'roc', 'pr'];

/** Probability above which a single sigmoid output counts as the positive class (as Keras). */
const BINARY_THRESHOLD = 0.5;
/** Batch size for predict when none is given: tfjs's own default. */
const DEFAULT_PREDICT_BATCH_SIZE = 32;
/** Characters that cannot be in a plot name segment; a class name with one gets `_`. */
const UNSAFE_SEGMENT_CHARACTERS = /[\u0000-\u001f\u007f\\/:*?"<>|]/g;

export interface EvaluationOptions {
  /** Features of the evaluation samples (what model.predict takes). */
  x: Tensor | Tensor[];
  /**
   * Their true classes: one-hot rows `[samples, classes]`, class indices `[samples]`, or 0/1
   * labels `[samples]` / `[samples, 1]` for a single sigmoid output.
   */
  y: Tensor;
  /** Names of the classes, by index (default: "0", "1", ...). */
  classNames?: string[];
  /** Which plots to record (default all: confusion, roc, pr). */
  plots?: EvaluationPlot[];
  /** Batch size for model.predict (default 32). */
  batchSize?: number;
}

/** A plot ready for run.logPlot. */
export interface NamedPlot {
  name: string;
  plot: PlotInput;
}

/** The plots, and why any requested plot was left out. */
export interface EvaluationResult {
  plots: NamedPlot[];
  skipped: string[];
}

/** Checks the options early (when the callback is made), naming the wrong field and the fix. */
export function checkEvaluationOptions(options: EvaluationOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(
      'livestep: livestepCallback evaluation must be an object { x, y, classNames?, plots? }',
    );
  }
  const isTensor = (value: unknown) =>
    typeof value === 'object' && value !== null && typeof (value as Tensor).data === 'function';
  const xOk = Array.isArray(options.x) ? options.x.every(isTensor) : isTensor(options.x);
  if (!xOk || !isTensor(options.y)) {
    throw new TypeError(
      'livestep: livestepCallback evaluation.x and evaluation.y must be tensors (e.g. the validation features and labels)',
    );
  }
  for (const plot of options.plots ?? []) {
    if (!EVALUATION_PLOTS.includes(plot)) {
      throw new TypeError(
        `livestep: livestepCallback evaluation.plots has ${JSON.stringify(plot)}; use some of ${EVALUATION_PLOTS.join(', ')}`,
      );
    }
  }
  if (options.classNames !== undefined && !Array.isArray(options.classNames)) {
    throw new TypeError(
      'livestep: livestepCallback evaluation.classNames must be an array of strings, one per class',
    );
  }
}

/** Scores as `[samples][outputs]` and true classes as indices, read back from the tensors. */
async function predictAndRead(
  model: LayersModel,
  options: EvaluationOptions,
): Promise<{ scores: number[][]; actual: number[]; outputs: number }> {
  const prediction = model.predict(options.x, {
    batchSize: options.batchSize ?? DEFAULT_PREDICT_BATCH_SIZE,
  });
  if (Array.isArray(prediction)) {
    for (const tensor of prediction) tensor.dispose();
    throw new TypeError(
      'livestep: evaluation plots need a model with one output; this model has several',
    );
  }
  try {
    const outputs = prediction.rank === 1 ? 1 : prediction.shape[prediction.shape.length - 1]!;
    const samples = prediction.shape[0]!;
    const flatScores = await prediction.data();
    const scores: number[][] = [];
    for (let sample = 0; sample < samples; sample++) {
      scores.push(Array.from(flatScores.subarray(sample * outputs, (sample + 1) * outputs)));
    }
    const labels = options.y;
    const labelColumns = labels.rank === 1 ? 1 : labels.shape[labels.shape.length - 1]!;
    if (labels.shape[0] !== samples) {
      throw new RangeError(
        `livestep: evaluation.y has ${labels.shape[0]} samples but evaluation.x has ${samples}; pass one label per sample`,
      );
    }
    const flatLabels = await labels.data();
    const actual: number[] = [];
    for (let sample = 0; sample < samples; sample++) {
      if (labelColumns === 1) actual.push(Math.round(Number(flatLabels[sample])));
      else {
        let best = 0;
        for (let column = 1; column < labelColumns; column++) {
          if (
            flatLabels[sample * labelColumns + column]! > flatLabels[sample * labelColumns + best]!
          ) {
            best = column;
          }
        }
        actual.push(best);
      }
    }
    if (labelColumns > 1 && labelColumns !== outputs) {
      throw new RangeError(
        `livestep: evaluation.y has ${labelColumns} columns but the model predicts ${outputs} classes; pass one-hot labels with one column per class, or class indices`,
      );
    }
    return { scores, actual, outputs };
  } finally {
    prediction.dispose();
  }
}

function argmax(row: number[]): number {
  let best = 0;
  for (let index = 1; index < row.length; index++) if (row[index]! > row[best]!) best = index;
  return best;
}

function safeSegment(name: string): string {
  const cleaned = name.replace(UNSAFE_SEGMENT_CHARACTERS, '_').trim();
  return cleaned === '' || cleaned === '.' || cleaned === '..' ? '_' : cleaned;
}

/**
 * Predicts on the evaluation data and builds the requested plots. `prefix` (e.g. `fold-1/`) is put
 * before each plot name; `step` is the step the plots belong to.
 */
export async function buildEvaluationPlots(
  model: LayersModel,
  options: EvaluationOptions,
  prefix: string,
  step: number,
): Promise<EvaluationResult> {
  const wanted = new Set(options.plots ?? EVALUATION_PLOTS);
  const { scores, actual, outputs } = await predictAndRead(model, options);
  const skipped: string[] = [];
  // A diverged model (NaN loss is not an error in tfjs) predicts NaN: no curve can be drawn.
  if (scores.some((row) => row.some((score) => !Number.isFinite(score)))) {
    for (const plot of ['roc', 'pr'] as const) {
      if (wanted.delete(plot)) {
        skipped.push(`${plot}: the model predicts non-finite scores (did the loss diverge?)`);
      }
    }
  }
  const classCount = Math.max(outputs, 2);
  const classNames = Array.from(
    { length: classCount },
    (_, index) => options.classNames?.[index] ?? String(index),
  );
  const predicted = scores.map((row) =>
    outputs === 1 ? (row[0]! >= BINARY_THRESHOLD ? 1 : 0) : argmax(row),
  );
  const plots: NamedPlot[] = [];
  if (wanted.has('confusion')) {
    plots.push({
      name: `${prefix}confusion_matrix`,
      plot: confusionMatrix(actual, predicted, { labels: classNames, step }),
    });
  }
  const curves = (positive: number, scoreColumn: number, suffix: string) => {
    const isPositive = actual.map((label) => label === positive);
    const positiveScores = scores.map((row) => row[scoreColumn]!);
    const title = `${classNames[positive]} vs rest`;
    if (wanted.has('roc')) {
      const plot = rocCurve(isPositive, positiveScores, { step });
      if (suffix !== '') plot.title = title;
      plots.push({ name: `${prefix}roc${suffix}`, plot });
    }
    if (wanted.has('pr')) {
      const plot = precisionRecallCurve(isPositive, positiveScores, { step });
      if (suffix !== '') plot.title = title;
      plots.push({ name: `${prefix}precision_recall${suffix}`, plot });
    }
  };
  if (outputs === 1) curves(1, 0, '');
  else if (outputs === 2) curves(1, 1, '');
  else {
    for (let classIndex = 0; classIndex < outputs; classIndex++) {
      curves(classIndex, classIndex, `/${safeSegment(classNames[classIndex]!)}`);
    }
  }
  return { plots, skipped };
}
