/**
 * Batch targets in the forms people have them (class indices, class labels, one-hot rows, a
 * tensor, numbers for regression) turned into class indices or numbers.
 */

export type TargetValue = number | string | bigint | boolean;

/** One sample's target values: a one-hot row, or the values of a multi-output regression. */
export type TargetRow = ArrayLike<TargetValue>;

/**
 * Targets of one batch: an array or typed array (BigInt64Array for int64 labels), an array of
 * rows (one-hot rows `[[1, 0, 0], ...]`, regression rows `[[1.5], [2]]`, as custom metrics get
 * them), or a tensor (anything with `data`).
 */
export type BatchTargets =
  | ArrayLike<TargetValue>
  | readonly TargetRow[]
  | { readonly data: ArrayLike<TargetValue> };

function isRow(value: unknown): value is TargetRow {
  return Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView));
}

/** Rows of equal length, one after the other; the row that differs is named. */
function flattenRows(rows: ArrayLike<unknown>, where: string): TargetValue[] {
  const width = (rows[0] as TargetRow).length;
  const values: TargetValue[] = [];
  for (let row = 0; row < rows.length; row++) {
    const rowValues = rows[row];
    if (!isRow(rowValues) || rowValues.length !== width) {
      throw new TypeError(
        `livestep: ${where} target row ${row} ${isRow(rowValues) ? `has ${rowValues.length} values` : `is ${rowValues === null ? 'null' : typeof rowValues}`}, row 0 has ${width}; pass rows of the same length, or one value per sample`,
      );
    }
    for (let column = 0; column < width; column++) values.push(rowValues[column] as TargetValue);
  }
  return values;
}

function targetValues(targets: BatchTargets, where: string): ArrayLike<TargetValue> {
  if (typeof targets === 'object' && targets !== null) {
    if ('data' in targets && typeof targets.data === 'object' && targets.data !== null) {
      return targets.data;
    }
    const values = targets as ArrayLike<unknown>;
    if (typeof values.length === 'number') {
      return values.length > 0 && isRow(values[0])
        ? flattenRows(values, where)
        : (values as ArrayLike<TargetValue>);
    }
  }
  throw new TypeError(
    `livestep: ${where} targets must be an array, a typed array, an array of rows or a tensor, got ${targets === null ? 'null' : typeof targets}`,
  );
}

/**
 * The true class index of each of `samples` samples. Targets are class indices, class labels
 * (looked up in `classLabels`) or one-hot rows of `classes` values.
 */
export function toClassIndices(
  targets: BatchTargets,
  options: { samples: number; classes: number; classLabels?: readonly string[]; where: string },
): Int32Array {
  const { samples, classes, classLabels, where } = options;
  const values = targetValues(targets, where);
  const indices = new Int32Array(samples);
  if (values.length === samples * classes && classes > 1 && samples > 0) {
    return oneHotIndices(values, samples, classes, where);
  }
  if (values.length !== samples) {
    throw new RangeError(
      `livestep: ${where} has ${values.length} targets for ${samples} samples; pass one class (index or label) per sample, or one-hot rows of ${classes}`,
    );
  }
  for (let sample = 0; sample < samples; sample++) {
    const value = values[sample]!;
    let index: number;
    if (typeof value === 'string') {
      index = classLabels?.indexOf(value) ?? -1;
      if (index < 0) {
        throw new RangeError(
          `livestep: ${where} target ${sample} is "${value}", which is not in classLabels${classLabels ? ` (${classLabels.join(', ')})` : ''}; pass class indices or list it in classLabels`,
        );
      }
    } else {
      index = Number(value);
      if (!Number.isInteger(index) || index < 0 || index >= classes) {
        throw new RangeError(
          `livestep: ${where} target ${sample} is ${String(value)}; class indices are integers from 0 to ${classes - 1}`,
        );
      }
    }
    indices[sample] = index;
  }
  return indices;
}

function oneHotIndices(
  values: ArrayLike<TargetValue>,
  samples: number,
  classes: number,
  where: string,
): Int32Array {
  const indices = new Int32Array(samples);
  for (let sample = 0; sample < samples; sample++) {
    let hot = -1;
    for (let column = 0; column < classes; column++) {
      const value = Number(values[sample * classes + column]);
      if (value === 1 && hot === -1) hot = column;
      else if (value !== 0) hot = -2;
    }
    if (hot < 0) {
      throw new RangeError(
        `livestep: ${where} target row ${sample} is not one-hot (one 1 and ${classes - 1} zeros); pass class indices, labels or one-hot rows`,
      );
    }
    indices[sample] = hot;
  }
  return indices;
}

/** Regression targets: `samples × width` numbers, sample after sample. */
export function toNumbers(
  targets: BatchTargets,
  options: { samples: number; width: number; where: string },
): Float64Array {
  const { samples, width, where } = options;
  const values = targetValues(targets, where);
  if (values.length !== samples * width) {
    throw new RangeError(
      `livestep: ${where} has ${values.length} target values for ${samples} samples of ${width} output value(s); pass ${samples * width}`,
    );
  }
  const numbers = new Float64Array(values.length);
  for (let index = 0; index < values.length; index++) {
    const value = values[index];
    const number = typeof value === 'bigint' || typeof value === 'boolean' ? Number(value) : value;
    if (typeof number !== 'number' || !Number.isFinite(number)) {
      throw new TypeError(
        `livestep: ${where} target value ${index} is ${typeof value === 'string' ? JSON.stringify(value) : String(value)}; regression targets are finite numbers`,
      );
    }
    numbers[index] = number;
  }
  return numbers;
}
