/**
 * Weight histograms as plot data: one `bar` plot per weight of the model, named
 * `histograms/<weight name>` (e.g. `histograms/dense_Dense1/kernel`), with one row per bin:
 * `{ bin, lower, upper, count }`, where `bin` is the bin's centre. A weight holding NaN or
 * infinite values (a diverged model) gets no histogram: it is reported instead.
 */
import type { PlotInput } from '@livestep/core';
import type { LayersModel } from '@tensorflow/tfjs-layers';

/** Bins per histogram by default: enough to see a shape, few enough to stay small. */
export const DEFAULT_HISTOGRAM_BINS = 30;
/** Characters that cannot be in a plot name; a weight name with one gets `_` instead. */
const UNSAFE_NAME_CHARACTERS = /[\u0000-\u001f\u007f\\:*?"<>|]/g;

/** Counts `values` into `bins` equal-width bins between their minimum and maximum. */
export function histogramRows(
  values: ArrayLike<number>,
  bins: number,
): Array<{ bin: number; lower: number; upper: number; count: number }> {
  let minimum = Number.POSITIVE_INFINITY;
  let maximum = Number.NEGATIVE_INFINITY;
  for (let index = 0; index < values.length; index++) {
    const value = values[index]!;
    if (!Number.isFinite(value)) continue;
    if (value < minimum) minimum = value;
    if (value > maximum) maximum = value;
  }
  if (minimum === Number.POSITIVE_INFINITY) return [];
  // All values equal (a fresh bias): one bin around the value.
  if (minimum === maximum) {
    return [{ bin: minimum, lower: minimum, upper: maximum, count: values.length }];
  }
  const width = (maximum - minimum) / bins;
  const counts = new Array<number>(bins).fill(0);
  for (let index = 0; index < values.length; index++) {
    const value = values[index]!;
    if (!Number.isFinite(value)) continue;
    counts[Math.min(Math.floor((value - minimum) / width), bins - 1)]!++;
  }
  return counts.map((count, index) => {
    const lower = minimum + index * width;
    const upper = index === bins - 1 ? maximum : lower + width;
    return { bin: (lower + upper) / 2, lower, upper, count };
  });
}

/** The histograms, and the weights left out because they hold NaN or infinite values. */
export interface WeightHistograms {
  plots: Array<{ name: string; plot: PlotInput }>;
  /** Names of the weights with non-finite values (a diverged model): no histogram means anything. */
  nonFinite: string[];
}

function hasNonFinite(values: ArrayLike<number>): boolean {
  for (let index = 0; index < values.length; index++) {
    if (!Number.isFinite(values[index]!)) return true;
  }
  return false;
}

/** One histogram plot per model weight, read back from the backend. */
export async function buildWeightHistograms(
  model: LayersModel,
  prefix: string,
  step: number,
  bins: number,
): Promise<WeightHistograms> {
  const plots: Array<{ name: string; plot: PlotInput }> = [];
  const nonFinite: string[] = [];
  const seen = new Set<string>();
  for (const weight of model.weights) {
    const base = `${prefix}histograms/${weight.name.replace(UNSAFE_NAME_CHARACTERS, '_')}`;
    let name = base;
    // Two weights may share a name (tfjs makes most names unique, not all): keep both.
    for (let copy = 2; seen.has(name); copy++) name = `${base}_${copy}`;
    seen.add(name);
    const values = (await weight.read().data()) as ArrayLike<number>;
    if (hasNonFinite(values)) {
      nonFinite.push(weight.name);
      continue;
    }
    plots.push({
      name,
      plot: {
        kind: 'bar',
        rows: histogramRows(values, bins),
        x: 'count',
        y: 'bin',
        title: weight.name,
        step,
      },
    });
  }
  return { plots, nonFinite };
}
