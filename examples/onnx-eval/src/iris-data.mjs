// The Iris data and the split the example trains and evaluates on: stratified 80/20 with a seeded
// shuffle, so every run (and every machine) sees the same 30 validation flowers.
import { readFileSync } from 'node:fs';

export const IRIS_CSV = new URL('../../datasets/iris.csv', import.meta.url);
export const FEATURE_NAMES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
export const CLASS_NAMES = ['setosa', 'versicolor', 'virginica'];
/** The seed of the shuffle; change it and the split (and every number) changes. */
export const SPLIT_SEED = 42;
/** One flower in five per species is held out for evaluation. */
export const VALIDATION_FRACTION = 0.2;

/** Rows of { features: number[4], label: number } from examples/datasets/iris.csv. */
export function loadIris(path = IRIS_CSV) {
  const [header, ...lines] = readFileSync(path, 'utf8').trim().split(/\r?\n/);
  const columns = header.split(',');
  if (columns.join(',') !== [...FEATURE_NAMES, 'species'].join(',')) {
    throw new Error(`iris.csv: unexpected columns ${header}`);
  }
  return lines.map((line) => {
    const cells = line.split(',');
    const label = CLASS_NAMES.indexOf(cells[4]);
    if (label < 0) throw new Error(`iris.csv: unknown species ${cells[4]}`);
    return { features: cells.slice(0, 4).map(Number), label };
  });
}

/** A small seeded generator (mulberry32): the same numbers on every platform. */
export function seededRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

/** Each species shuffled with the seed; its first 20% are validation, the rest training. */
export function stratifiedSplit(rows, seed = SPLIT_SEED, fraction = VALIDATION_FRACTION) {
  const random = seededRandom(seed);
  const training = [];
  const validation = [];
  for (let label = 0; label < CLASS_NAMES.length; label++) {
    const members = rows.filter((row) => row.label === label);
    for (let index = members.length - 1; index > 0; index--) {
      const other = Math.floor(random() * (index + 1));
      [members[index], members[other]] = [members[other], members[index]];
    }
    const held = Math.round(members.length * fraction);
    validation.push(...members.slice(0, held));
    training.push(...members.slice(held));
  }
  return { training, validation };
}
