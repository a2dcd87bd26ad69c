/**
 * Detects a fit that ends by throwing. tfjs calls no callback when fit() or fitDataset() throws
 * (from another callback, from the data, from the model), but both always run
 * `model.isTraining = false` in a `finally` block, and a normal end calls onTrainEnd first. So
 * while a fit runs, `isTraining` on the model instance is watched: set to false before
 * onTrainEnd means the fit threw. The property is restored to a plain value as soon as the fit
 * ends either way, so nothing is left behind on the model.
 */

/** Stops watching and restores the property; safe to call more than once. */
export type StopWatching = () => void;

/** The property tfjs's fit loops set to false in their `finally` block. */
const TRAINING_FLAG = 'isTraining';

/**
 * Calls `onAborted` (synchronously, inside tfjs's `finally`) when the fit ends without
 * `stop()` having been called first. Does nothing when the model does not have the property as
 * a plain, configurable value (a tfjs version that trains differently): then a thrown fit is
 * left to the run's exit hooks.
 */
export function watchForAbortedFit(model: object, onAborted: () => void): StopWatching {
  const descriptor = Object.getOwnPropertyDescriptor(model, TRAINING_FLAG);
  if (descriptor === undefined || !('value' in descriptor) || descriptor.configurable !== true) {
    return () => {};
  }
  let value: unknown = descriptor.value;
  let watching = true;
  const stop: StopWatching = () => {
    if (!watching) return;
    watching = false;
    Object.defineProperty(model, TRAINING_FLAG, {
      value,
      writable: descriptor.writable ?? true,
      enumerable: descriptor.enumerable ?? true,
      configurable: true,
    });
  };
  Object.defineProperty(model, TRAINING_FLAG, {
    enumerable: descriptor.enumerable ?? true,
    configurable: true,
    get: () => value,
    set: (next: unknown) => {
      value = next;
      if (next === false && watching) {
        stop();
        onAborted();
      }
    },
  });
  return stop;
}
