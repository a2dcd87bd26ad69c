/**
 * Where a livestep name goes in a TensorBoard log directory: a folder (TensorBoard's "run") and
 * a tag. tfjs-node's callback writes training values into `<logdir>/train` and validation
 * values into `<logdir>/val`, with the `val_` of Keras keys stripped, so that a training value
 * and its validation twin share a tag and one chart (tensorflow/tfjs `tfjs-node/src/callbacks.ts`).
 * livestep's names say the same with a segment (`train/loss`, `eval/loss`), so:
 *
 * 1. The first segment that is `train`, or `eval`, `val` or `validation`, and is not the last,
 *    splits the name: the segments before it are folders (a prefix such as `fold-1/`), it
 *    becomes the folder `train` or `val`, and the segments after it are the tag.
 *    `train/loss` -> (`train`, `loss`); `eval/accuracy` -> (`val`, `accuracy`);
 *    `train/batch/loss` -> (`train`, `batch/loss`); `fold-1/eval/loss` -> (`fold-1/val`, `loss`).
 * 2. Otherwise a last segment `val_<x>` (a Keras key logged as it is) goes to `val` with tag
 *    `<x>`: `val_loss` -> (`val`, `loss`); `fold-1/val_acc` -> (`fold-1/val`, `acc`).
 * 3. Anything else stays in the log directory itself, its whole name the tag:
 *    `loss` -> (`.`, `loss`); `system/cpu_percent` -> (`.`, `system/cpu_percent`).
 *
 * Labels are appended to the tag as the directory sink names their series:
 * `eval/recall` with `{class: "setosa"}` -> (`val`, `recall/class=setosa`).
 */

const TRAIN_SEGMENTS = new Set(['train']);
const VALIDATION_SEGMENTS = new Set(['eval', 'val', 'validation']);
const KERAS_VALIDATION_PREFIX = 'val_';

/** tfjs-node's folder names (callbacks.ts: `train`, `val`). */
export const TRAIN_FOLDER = 'train';
export const VALIDATION_FOLDER = 'val';

export interface TensorBoardPlace {
  /** The folder under the log directory, `/`-separated; '' for the log directory itself. */
  folder: string;
  tag: string;
}

export function tensorBoardPlace(name: string): TensorBoardPlace {
  const segments = name.split('/');
  for (let index = 0; index < segments.length - 1; index++) {
    const segment = segments[index]!;
    const folder = TRAIN_SEGMENTS.has(segment)
      ? TRAIN_FOLDER
      : VALIDATION_SEGMENTS.has(segment)
        ? VALIDATION_FOLDER
        : undefined;
    if (folder !== undefined) {
      return {
        folder: [...segments.slice(0, index), folder].join('/'),
        tag: segments.slice(index + 1).join('/'),
      };
    }
  }
  const last = segments.at(-1)!;
  if (last.startsWith(KERAS_VALIDATION_PREFIX) && last.length > KERAS_VALIDATION_PREFIX.length) {
    return {
      folder: [...segments.slice(0, -1), VALIDATION_FOLDER].join('/'),
      tag: last.slice(KERAS_VALIDATION_PREFIX.length),
    };
  }
  return { folder: '', tag: name };
}
