/** Test helpers: the tfjs backends the suite runs on, and tiny datasets and models. */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

export const BACKENDS = ['cpu', 'wasm'] as const;
export type BackendName = (typeof BACKENDS)[number];

const require = createRequire(import.meta.url);

/** Switches tfjs to a backend; wasm loads its binaries from the installed package's dist folder. */
export async function useBackend(name: BackendName): Promise<void> {
  if (name === 'wasm') {
    setWasmPaths(`${dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}/`);
  }
  const ok = await tf.setBackend(name);
  if (!ok || tf.getBackend() !== name) throw new Error(`tfjs backend ${name} did not start`);
  await tf.ready();
}

/** A deterministic 3-class problem: class = which of the first three features is largest. */
export function threeClassData(samples: number, seed = 1): { x: tf.Tensor2D; y: tf.Tensor2D } {
  let state = seed;
  const random = () => {
    // Park-Miller: the same numbers on every run and backend.
    state = (state * 48_271) % 2_147_483_647;
    return state / 2_147_483_647;
  };
  const features: number[][] = [];
  const labels: number[][] = [];
  for (let index = 0; index < samples; index++) {
    const row = [random(), random(), random(), random()];
    const top = row.slice(0, 3).indexOf(Math.max(...row.slice(0, 3)));
    features.push(row);
    labels.push([0, 1, 2].map((classIndex) => (classIndex === top ? 1 : 0)));
  }
  return { x: tf.tensor2d(features), y: tf.tensor2d(labels) };
}

/** A small dense softmax classifier with fixed initial weights (seeded initializers). */
export function smallClassifier(units = 8): tf.Sequential {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({
        units,
        inputShape: [4],
        activation: 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
      }),
      tf.layers.dense({
        units: 3,
        activation: 'softmax',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }),
      }),
    ],
  });
  model.compile({
    optimizer: tf.train.adam(0.05),
    loss: 'categoricalCrossentropy',
    metrics: ['accuracy'],
  });
  return model;
}
