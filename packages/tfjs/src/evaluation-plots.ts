// biome-ignore-all lint/style/noExcessiveLinesPerFile: the evaluation plots of a fit (confusion, ROC, PR, calibration) share their tensor reading and class naming.
/**
 * Classifier plots on data the user gives: a confusion matrix, ROC and precision-recall curves,
 * computed with @livestep/core from the model's predictions at train end. Binary outputs (one
 * sigmoid unit, or two classes) get one plot of each; multi-class outputs get one confusion
 * matrix and one-vs-rest ROC and PR curves per class (`roc/<class>`, `precision_recall/<class>`).
 * A model with several outputs gets these per output, under the output's name
 * (`<output>/confusion_matrix`).
 *
 * Everything that can be checked without training is checked at train begin, against the model
 * (`prepareEvaluation`): a mistake in the option fails the fit before the first epoch, not after
 * the last.
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
/** A classifier output is `[samples, classes]`: the batch dimension and one other. */
const CLASSIFIER_OUTPUT_RANK = 2;

/** Labels for one output, or (several outputs) one per output, by position or by output name. */
export type EvaluationLabels = Tensor | Tensor[] | Record<string, Tensor>;

export interface EvaluationOptions {
  /** Features of the evaluation samples (what model.predict takes). */
  x: Tensor | Tensor[];
  /**
   * Their true classes: one-hot rows `[samples, classes]`, class indices `[samples]`, or 0/1
   * labels `[samples]` / `[samples, 1]` for a single sigmoid output. A model with several
   * outputs takes one per output, as fit() does: an array in the model's output order, or an
   * object by output name (only the outputs named get plots).
   */
  y: EvaluationLabels;
  /**
   * Names of the classes, by index (default: "0", "1", ...), one per class. With several
   * outputs: one list for all, or an object of lists by output name.
   */
  classNames?: string[] | Record<string, string[]>;
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

/** One output to plot, checked against the model; its labels already read as class indices. */
interface EvaluationTarget {
  outputIndex: number;
  /** `''` for a single-output model, else `<output name>/`. */
  namePrefix: string;
  /** For messages: `the model's output` or `output "dense_2"`. */
  described: string;
  /** Units of the output: 1 for a sigmoid, else one per class. */
  units: number;
  classNames: string[];
  actual: number[];
}

/** The evaluation checked against the model at train begin, ready for train end. */
export interface PreparedEvaluation {
  x: Tensor | Tensor[];
  samples: number;
  batchSize: number;
  plots: Set<EvaluationPlot>;
  targets: EvaluationTarget[];
}

const isTensor = (value: unknown): value is Tensor =>
  typeof value === 'object' && value !== null && typeof (value as Tensor).data === 'function';

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' &&
  value !== null &&
  !Array.isArray(value) &&
  Object.getPrototypeOf(value) === Object.prototype;

function checkClassNameList(names: unknown, field: string): void {
  if (!Array.isArray(names) || names.some((name) => typeof name !== 'string')) {
    throw new TypeError(
      `livestep: livestepCallback ${field} must be an array of strings, one per class`,
    );
  }
  const seen = new Set<string>();
  for (const name of names as string[]) {
    if (seen.has(name)) {
      throw new TypeError(
        `livestep: livestepCallback ${field} has ${JSON.stringify(name)} twice; give each class its own name`,
      );
    }
    seen.add(name);
  }
}

/** Checks the options early (when the callback is made), naming the wrong field and the fix. */
export function checkEvaluationOptions(options: EvaluationOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(
      'livestep: livestepCallback evaluation must be an object { x, y, classNames?, plots? }',
    );
  }
  const xOk = Array.isArray(options.x)
    ? options.x.length > 0 && options.x.every(isTensor)
    : isTensor(options.x);
  const y = options.y as unknown;
  const yOk = Array.isArray(y)
    ? y.length > 0 && y.every(isTensor)
    : isTensor(y) ||
      (isPlainObject(y) && Object.values(y).length > 0 && Object.values(y).every(isTensor));
  if (!xOk || !yOk) {
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
  const classNames = options.classNames as unknown;
  if (classNames !== undefined) {
    if (isPlainObject(classNames)) {
      for (const [output, names] of Object.entries(classNames)) {
        checkClassNameList(names, `evaluation.classNames.${output}`);
      }
    } else checkClassNameList(classNames, 'evaluation.classNames');
  }
  if (
    options.batchSize !== undefined &&
    (!Number.isInteger(options.batchSize) || options.batchSize < 1)
  ) {
    throw new TypeError(
      `livestep: livestepCallback evaluation.batchSize is ${JSON.stringify(options.batchSize)}; pass an integer >= 1`,
    );
  }
}

const shapeText = (shape: ReadonlyArray<number | null>) =>
  `[${shape.map((size) => (size === null ? 'null' : String(size))).join(', ')}]`;

/** The features: one tensor per model input, shaped like it, all with the same rows. */
function checkFeatures(model: LayersModel, x: Tensor | Tensor[]): number {
  const features = Array.isArray(x) ? x : [x];
  if (features.length !== model.inputs.length) {
    throw new RangeError(
      `livestep: livestepCallback evaluation.x has ${features.length} tensor(s) but the model has ${model.inputs.length} input(s) (${model.inputNames.join(', ')}); pass one tensor per input, as to model.predict`,
    );
  }
  features.forEach((tensor, index) => {
    const expected = model.inputs[index]!.shape;
    const fits =
      tensor.rank === expected.length &&
      expected.every((size, axis) => size === null || size === tensor.shape[axis]);
    if (!fits) {
      throw new RangeError(
        `livestep: livestepCallback evaluation.x${Array.isArray(x) ? `[${index}]` : ''} has shape ${shapeText(tensor.shape)} but the model's input "${model.inputNames[index]}" takes ${shapeText(expected)}; pass features shaped like the training x`,
      );
    }
  });
  const samples = features[0]!.shape[0]!;
  const other = features.find((tensor) => tensor.shape[0] !== samples);
  if (other !== undefined) {
    throw new RangeError(
      `livestep: livestepCallback evaluation.x tensors have ${samples} and ${other.shape[0]} rows; pass the same samples to every input`,
    );
  }
  return samples;
}

/** Which label tensor goes with which output, from `evaluation.y`'s form. */
function labelsByOutput(model: LayersModel, y: EvaluationLabels): Array<[number, Tensor, string]> {
  const names = model.outputNames;
  const outputs = model.outputs.length;
  if (isTensor(y) || (Array.isArray(y) && y.length === 1 && outputs === 1)) {
    if (outputs > 1) {
      throw new TypeError(
        `livestep: livestepCallback evaluation.y is one tensor but the model has ${outputs} outputs (${names.join(', ')}); pass one label tensor per output, as an array in that order or as an object by output name (only the outputs named get plots)`,
      );
    }
    return [[0, isTensor(y) ? y : y[0]!, 'evaluation.y']];
  }
  if (Array.isArray(y)) {
    if (y.length !== outputs) {
      throw new RangeError(
        `livestep: livestepCallback evaluation.y has ${y.length} tensors but the model has ${outputs} output(s) (${names.join(', ')}); pass one per output, or an object by output name`,
      );
    }
    return y.map((labels, index) => [index, labels, `evaluation.y[${index}]`]);
  }
  return Object.entries(y).map(([name, labels]) => {
    const index = names.indexOf(name);
    if (index === -1) {
      throw new RangeError(
        `livestep: livestepCallback evaluation.y names output ${JSON.stringify(name)}, which the model does not have; its outputs are ${names.join(', ')}`,
      );
    }
    return [index, labels, `evaluation.y.${name}`];
  });
}

/** Reads the labels as class indices, checking their shape and values against the output. */
async function readClassIndices(
  labels: Tensor,
  field: string,
  samples: number,
  units: number,
  described: string,
): Promise<number[]> {
  if (labels.rank < 1 || labels.rank > CLASSIFIER_OUTPUT_RANK) {
    throw new RangeError(
      `livestep: livestepCallback ${field} has shape ${shapeText(labels.shape)}; pass one-hot rows [samples, classes] or class indices [samples]`,
    );
  }
  if (labels.shape[0] !== samples) {
    throw new RangeError(
      `livestep: livestepCallback ${field} has ${labels.shape[0]} rows but evaluation.x has ${samples}; pass one label per sample`,
    );
  }
  const columns = labels.rank === 1 ? 1 : labels.shape[1]!;
  const classes = Math.max(units, 2);
  if (columns > 1 && columns !== units) {
    throw new RangeError(
      `livestep: livestepCallback ${field} has ${columns} columns but ${described} predicts ${units === 1 ? 'one sigmoid unit (2 classes)' : `${units} classes`}; pass ${units === 1 ? '0/1 labels, shaped [samples] or [samples, 1]' : 'one-hot labels with one column per class, or class indices'}`,
    );
  }
  const flat = await labels.data();
  const actual: number[] = [];
  for (let sample = 0; sample < samples; sample++) {
    if (columns === 1) {
      const value = Number(flat[sample]);
      if (!Number.isInteger(value) || value < 0 || value >= classes) {
        throw new RangeError(
          `livestep: livestepCallback ${field} has ${value} at row ${sample}; pass class indices from 0 to ${classes - 1}${units === 1 ? ' (0/1 for a sigmoid output)' : ''}`,
        );
      }
      actual.push(value);
    } else {
      let best = 0;
      for (let column = 1; column < columns; column++) {
        if (flat[sample * columns + column]! > flat[sample * columns + best]!) best = column;
      }
      actual.push(best);
    }
  }
  return actual;
}

function classNamesFor(
  options: EvaluationOptions,
  outputName: string,
  multiOutput: boolean,
  classes: number,
  described: string,
): string[] {
  const given = options.classNames;
  const list = Array.isArray(given) ? given : given?.[outputName];
  const field =
    Array.isArray(given) || given === undefined
      ? 'evaluation.classNames'
      : `evaluation.classNames.${outputName}`;
  if (list === undefined) return Array.from({ length: classes }, (_, index) => String(index));
  if (list.length !== classes) {
    throw new RangeError(
      `livestep: livestepCallback ${field} has ${list.length} name(s) (${list.join(', ')}) but ${described} predicts ${classes} classes; pass one name per class${multiOutput && Array.isArray(given) ? ', or an object of names by output name' : ''}`,
    );
  }
  return [...list];
}

/**
 * Checks the evaluation against the model (inputs, outputs, label shapes and values, class
 * names) and reads the labels, so that train end only predicts. Throws naming the field and
 * the fix.
 */
export async function prepareEvaluation(
  model: LayersModel,
  options: EvaluationOptions,
): Promise<PreparedEvaluation> {
  const samples = checkFeatures(model, options.x);
  const multiOutput = model.outputs.length > 1;
  const targets: EvaluationTarget[] = [];
  for (const [outputIndex, labels, field] of labelsByOutput(model, options.y)) {
    const outputName = model.outputNames[outputIndex]!;
    const described = multiOutput ? `output "${outputName}"` : "the model's output";
    const shape = model.outputs[outputIndex]!.shape;
    const units = shape[shape.length - 1];
    if (shape.length !== CLASSIFIER_OUTPUT_RANK || typeof units !== 'number') {
      throw new RangeError(
        `livestep: livestepCallback evaluation: ${described} has shape ${shapeText(shape)}; classifier plots need an output shaped [samples, classes]${multiOutput ? '; leave this output out of evaluation.y (pass an object naming only the classifier outputs)' : ''}`,
      );
    }
    const actual = await readClassIndices(labels, field, samples, units, described);
    targets.push({
      outputIndex,
      namePrefix: multiOutput ? `${safeSegment(outputName)}/` : '',
      described,
      units,
      classNames: classNamesFor(options, outputName, multiOutput, Math.max(units, 2), described),
      actual,
    });
  }
  return {
    x: options.x,
    samples,
    batchSize: options.batchSize ?? DEFAULT_PREDICT_BATCH_SIZE,
    plots: new Set(options.plots ?? EVALUATION_PLOTS),
    targets,
  };
}

/** Scores as `[samples][units]`, read back from one output's prediction. */
async function readScores(prediction: Tensor, samples: number, units: number): Promise<number[][]> {
  const flat = await prediction.data();
  const scores: number[][] = [];
  for (let sample = 0; sample < samples; sample++) {
    scores.push(Array.from(flat.subarray(sample * units, (sample + 1) * units)));
  }
  return scores;
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

function plotsForTarget(
  target: EvaluationTarget,
  scores: number[][],
  wanted: Set<EvaluationPlot>,
  prefix: string,
  step: number,
): EvaluationResult {
  const { actual, classNames, units } = target;
  const base = `${prefix}${target.namePrefix}`;
  // A diverged model (a NaN loss is not an error in tfjs) predicts NaN: its argmax is class 0 for
  // every sample and no curve can be drawn, so no plot would mean anything.
  if (scores.some((row) => row.some((score) => !Number.isFinite(score)))) {
    const left = EVALUATION_PLOTS.filter((plot) => wanted.has(plot));
    return {
      plots: [],
      skipped:
        left.length === 0
          ? []
          : [
              `${left.join(', ')} for ${target.described}: the model predicts non-finite scores (NaN or infinity) on evaluation.x; did the loss diverge?`,
            ],
    };
  }
  const predicted = scores.map((row) =>
    units === 1 ? (row[0]! >= BINARY_THRESHOLD ? 1 : 0) : argmax(row),
  );
  const plots: NamedPlot[] = [];
  if (wanted.has('confusion')) {
    plots.push({
      name: `${base}confusion_matrix`,
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
      plots.push({ name: `${base}roc${suffix}`, plot });
    }
    if (wanted.has('pr')) {
      const plot = precisionRecallCurve(isPositive, positiveScores, { step });
      if (suffix !== '') plot.title = title;
      plots.push({ name: `${base}precision_recall${suffix}`, plot });
    }
  };
  if (units === 1) curves(1, 0, '');
  else if (units === 2) curves(1, 1, '');
  else {
    for (let classIndex = 0; classIndex < units; classIndex++) {
      curves(classIndex, classIndex, `/${safeSegment(classNames[classIndex]!)}`);
    }
  }
  return { plots, skipped: [] };
}

/**
 * Predicts on the evaluation data and builds the requested plots for every output prepared.
 * `prefix` (e.g. `fold-1/`) is put before each plot name; `step` is the step the plots belong to.
 */
export async function buildEvaluationPlots(
  model: LayersModel,
  evaluation: PreparedEvaluation,
  prefix: string,
  step: number,
): Promise<EvaluationResult> {
  const prediction = model.predict(evaluation.x, { batchSize: evaluation.batchSize });
  const predictions = Array.isArray(prediction) ? prediction : [prediction];
  const result: EvaluationResult = { plots: [], skipped: [] };
  try {
    for (const target of evaluation.targets) {
      const output = predictions[target.outputIndex]!;
      const scores = await readScores(output, evaluation.samples, target.units);
      const { plots, skipped } = plotsForTarget(target, scores, evaluation.plots, prefix, step);
      result.plots.push(...plots);
      result.skipped.push(...skipped);
    }
  } finally {
    for (const tensor of predictions) tensor.dispose();
  }
  return result;
}
