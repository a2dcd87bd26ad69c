/**
 * Turning a model's output tensor into rows of numbers, and a classifier's output (logits or
 * probabilities; one score per class, or one for the positive class) into class probabilities.
 */

/** Probabilities a little outside [0, 1] or summing a little off 1 still count: float32 rounding. */
const PROBABILITY_TOLERANCE = 1e-3;

export type ScoreKind = 'probabilities' | 'logits';

/** The output of one batch: `rows` samples (the first dimension) of `width` values each. */
export interface OutputRows {
  rows: number;
  width: number;
  values: Float64Array;
}

interface TensorLike {
  type: string;
  dims: readonly number[];
  data: unknown;
}

function isTensorLike(value: unknown): value is TensorLike {
  return (
    typeof value === 'object' &&
    value !== null &&
    Array.isArray((value as TensorLike).dims) &&
    typeof (value as TensorLike).type === 'string' &&
    'data' in value
  );
}

/** Element types read as numbers; the rest (string, bool, float16 bit patterns) are refused. */
const NUMERIC_TYPES = new Set([
  'float32',
  'float64',
  'int8',
  'uint8',
  'int16',
  'uint16',
  'int32',
  'uint32',
  'int64',
  'uint64',
]);

/** The output tensor as rows: its first dimension is the sample, the others are flattened. */
export function outputRows(value: unknown, where: string): OutputRows {
  if (!isTensorLike(value)) {
    throw new TypeError(
      `livestep: ${where} is not a tensor; evaluate a tensor output (for scikit-learn models converted with a ZipMap, convert with zipmap=False)`,
    );
  }
  if (!NUMERIC_TYPES.has(value.type)) {
    throw new TypeError(
      `livestep: ${where} has type ${value.type}; evaluate a numeric output (add a Cast to float32 for float16)`,
    );
  }
  const data = value.data as ArrayLike<number | bigint>;
  const values = new Float64Array(data.length);
  for (let index = 0; index < data.length; index++) values[index] = Number(data[index]);
  const rows = value.dims.length === 0 ? 1 : value.dims[0]!;
  const width = rows === 0 ? 0 : values.length / rows;
  return { rows, width, values };
}

/** Where an output holds a value no metric can use, and what it is. */
export interface NonFiniteValue {
  /** The sample (row) it is in. */
  sample: number;
  /** Its position within the sample's values. */
  position: number;
  /** `NaN`, `Infinity` or `-Infinity`, as the value prints. */
  value: string;
}

/**
 * The first NaN or infinite value of an output, or undefined when every value is finite.
 * `negativeInfinityAllowed`: logits may hold -Infinity (a probability of 0: log-probabilities,
 * masked classes), which softmax and sigmoid handle exactly.
 */
export function findNonFinite(
  output: OutputRows,
  negativeInfinityAllowed: boolean,
): NonFiniteValue | undefined {
  const { values, width } = output;
  for (let index = 0; index < values.length; index++) {
    const value = values[index]!;
    if (Number.isFinite(value)) continue;
    if (value === Number.NEGATIVE_INFINITY && negativeInfinityAllowed) continue;
    return {
      sample: width === 0 ? index : Math.floor(index / width),
      position: width === 0 ? 0 : index % width,
      value: String(value),
    };
  }
  return undefined;
}

/** Probabilities when every value is in [0, 1] and (with several per row) every row sums to 1. */
export function detectScoreKind(output: OutputRows): ScoreKind {
  for (const value of output.values) {
    if (!(value >= -PROBABILITY_TOLERANCE && value <= 1 + PROBABILITY_TOLERANCE)) return 'logits';
  }
  if (output.width > 1) {
    for (let row = 0; row < output.rows; row++) {
      let sum = 0;
      for (let column = 0; column < output.width; column++) {
        sum += output.values[row * output.width + column]!;
      }
      if (Math.abs(sum - 1) > PROBABILITY_TOLERANCE) return 'logits';
    }
  }
  return 'probabilities';
}

/**
 * Class probabilities, `classes` per sample: a softmax of logits, or the probabilities as they
 * are. One value per sample is the positive class of a binary classifier (sigmoid of a logit, or
 * its probability): it becomes [1 − p, p].
 */
export function classProbabilities(
  output: OutputRows,
  kind: ScoreKind,
  where: string,
): { classes: number; probabilities: Float64Array } {
  const { rows, width, values } = output;
  if (kind === 'probabilities') {
    for (const value of values) {
      if (!(value >= -PROBABILITY_TOLERANCE && value <= 1 + PROBABILITY_TOLERANCE)) {
        throw new RangeError(
          `livestep: ${where} has the value ${value}, which is not a probability; if the model outputs logits, pass scores: 'logits'`,
        );
      }
    }
  }
  if (width === 1) {
    const probabilities = new Float64Array(rows * 2);
    for (let row = 0; row < rows; row++) {
      const value = values[row]!;
      const positive = kind === 'logits' ? 1 / (1 + Math.exp(-value)) : value;
      probabilities[row * 2] = 1 - positive;
      probabilities[row * 2 + 1] = positive;
    }
    return { classes: 2, probabilities };
  }
  if (kind === 'probabilities') return { classes: width, probabilities: values };
  const probabilities = new Float64Array(values.length);
  for (let row = 0; row < rows; row++) {
    const offset = row * width;
    let maximum = Number.NEGATIVE_INFINITY;
    for (let column = 0; column < width; column++) {
      maximum = Math.max(maximum, values[offset + column]!);
    }
    if (maximum === Number.NEGATIVE_INFINITY) {
      throw new RangeError(
        `livestep: ${where} has only -Infinity logits in sample ${row}, which give no probabilities; check the model's output for that sample`,
      );
    }
    let sum = 0;
    for (let column = 0; column < width; column++) {
      const exponential = Math.exp(values[offset + column]! - maximum);
      probabilities[offset + column] = exponential;
      sum += exponential;
    }
    for (let column = 0; column < width; column++) probabilities[offset + column]! /= sum;
  }
  return { classes: width, probabilities };
}
