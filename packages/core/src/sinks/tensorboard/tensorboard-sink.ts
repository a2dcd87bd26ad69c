/**
 * The TensorBoard sink writes a run as TensorBoard event files, in pure JavaScript: no
 * libtensorflow, so it works with every tfjs backend (cpu, wasm, webgl) and with any loop, where
 * tfjs-node's `tf.node.tensorBoard` callback needs the native one.
 *
 * Metrics become scalars (`simple_value`, float32 as libtensorflow writes them; NaN and ±inf
 * stay NaN and ±inf), images become Summary.Image, weight histograms (bar plots of
 * `{lower, upper, count}` rows, as @livestep/tfjs logs them) become HistogramProto, and
 * annotations and params become text (the text plugin). Where each name goes is
 * tensorboard-names.ts. Like the other file sinks it writes synchronously, one append per event
 * file per batch, so the files grow while a loop that never yields trains; a disk error never
 * reaches the training loop: it is counted and warned about once.
 */
import { hostname as osHostname } from 'node:os';
import { join, resolve } from 'node:path';
import { emitLivestepWarning } from '../../delivery/livestep-warning.js';
import { metricSeriesName } from '../../dvclive/layout.js';
import type { Sink, SinkDeliveryState } from '../../pipeline/sink.js';
import type { Batch, ImageEvent, Labels, PlotEvent, RunEvent } from '../../protocol/events.js';
import { decodeMetricValue } from '../../protocol/metric-value.js';
import { mergeParams } from '../../run/params.js';
import { createEventFile, DEFAULT_FILENAME_SUFFIX, type EventFile } from './event-file.js';
import {
  encodeScalarEvent,
  encodeSummaryEvent,
  encodeTag,
  type HistogramValue,
  type SummaryValue,
} from './event-proto.js';
import { readImageSize } from './image-size.js';
import { type TensorBoardPlace, tensorBoardPlace } from './tensorboard-names.js';

export interface TensorBoardSinkOptions {
  /**
   * The log directory (what `tensorboard --logdir` is given). `{run}` and `{experiment}` in it
   * are replaced by the run's name and experiment, to give each run its own folder.
   */
  directory: string;
  /** The host name in file names (default: this machine's, as libtensorflow writes it). */
  hostname?: string;
  /** The end of every file name (default `.v2`, tfjs-node's). */
  filenameSuffix?: string;
  /** Where a problem goes (a write the disk refused). Default: process.emitWarning. */
  onWarning?: (message: string) => void;
}

/** Where a metric series goes, its tag encoded. */
interface ScalarPlace {
  folder: string;
  tag: Uint8Array;
}

/** The tag annotations are written under (text plugin), in the log directory itself. */
export const ANNOTATIONS_TAG = 'annotations';
/** The tag the run's params are written under (text plugin), as JSON. */
export const PARAMS_TAG = 'params';

const IMAGE_EXTENSION = /\.(png|jpe?g|gif)$/i;
/** Errors of a full or failing disk, explained as such (the directory sink's set). */
const DISK_ERRORS = new Set(['ENOSPC', 'EFBIG', 'EDQUOT', 'EIO', 'EROFS']);
/** What a run name or experiment may not bring into a path: separators, `..`, control characters. */
const UNSAFE_PATH_TEXT = /[/\\\u0000-\u001f\u007f]|^\.\.?$/g;

/** A weight histogram from a bar plot of `{lower, upper, count}` rows; undefined for other plots. */
export function histogramFromPlot(event: PlotEvent): HistogramValue | undefined {
  if (event.plotKind !== 'bar' || event.rows.length === 0) return undefined;
  const bucketLimit: number[] = [];
  const bucket: number[] = [];
  let num = 0;
  let sum = 0;
  let sumSquares = 0;
  for (const row of event.rows) {
    const { lower, upper, count } = row;
    if (typeof lower !== 'number' || typeof upper !== 'number' || typeof count !== 'number') {
      return undefined;
    }
    bucketLimit.push(upper);
    bucket.push(count);
    // The values themselves are gone: each bucket's count sits at its centre.
    const centre = (lower + upper) / 2;
    num += count;
    sum += centre * count;
    sumSquares += centre * centre * count;
  }
  const first = event.rows[0]!.lower as number;
  return { min: first, max: bucketLimit.at(-1)!, num, sum, sumSquares, bucketLimit, bucket };
}

function annotationText(event: Extract<RunEvent, { kind: 'annotation' }>): string {
  const labels = Object.entries(event.labels ?? {});
  const suffix =
    labels.length === 0 ? '' : ` (${labels.map(([key, value]) => `${key}=${value}`).join(', ')})`;
  return `${event.level}: ${event.text}${suffix}`;
}

export function createTensorBoardSink(options: TensorBoardSinkOptions): Sink {
  if (typeof options?.directory !== 'string' || options.directory.trim() === '') {
    throw new TypeError(
      'livestep: createTensorBoardSink needs { directory }, the log directory to write, e.g. "logs/{run}"',
    );
  }
  const warn = options.onWarning ?? emitLivestepWarning;
  const host = options.hostname ?? osHostname();
  const suffix = options.filenameSuffix ?? DEFAULT_FILENAME_SUFFIX;
  /** Resolved at the first batch, which names the run. */
  let logDirectory: string | undefined;
  const files = new Map<string, EventFile>();
  const places = new Map<string, TensorBoardPlace>();
  const scalarPlaces = new Map<string, ScalarPlace>();
  const params: Record<string, unknown> = {};
  /** The latest step a metric had: the step of notes and plots that carry none. */
  let latestStep = 0;
  /** The time of the batch's last params event, when the batch had one. */
  let paramsChangedAt: number | undefined;
  let failedEvents = 0;
  let lastError: string | undefined;
  const warnedAbout = new Set<string>();

  const placeOf = (name: string) => {
    let place = places.get(name);
    if (place === undefined) {
      place = tensorBoardPlace(name);
      places.set(name, place);
    }
    return place;
  };

  function directoryFor(batch: Batch): string {
    if (logDirectory === undefined) {
      const safe = (text: string) => text.replace(UNSAFE_PATH_TEXT, '_');
      logDirectory = resolve(
        options.directory
          .replaceAll('{run}', safe(batch.run.name))
          .replaceAll('{experiment}', safe(batch.run.experiment)),
      );
    }
    return logDirectory;
  }

  function countFailure(error: unknown, events: number, path: string): void {
    failedEvents += events;
    const failure = error as NodeJS.ErrnoException;
    const code = failure.code ?? 'error';
    const message = DISK_ERRORS.has(code)
      ? `the disk refused a write in ${path} (${failure.message}); events from then on are not in the event files, and the flush report counts them. Free space, or point the log directory (createTensorBoardSink({ directory }) or LIVESTEP_TENSORBOARD_DIR) at another disk`
      : `cannot write ${path} (${failure.message}); those events are not in the event files, and the flush report counts them`;
    lastError = message;
    const key = DISK_ERRORS.has(code) ? 'disk' : code;
    if (!warnedAbout.has(key)) {
      warnedAbout.add(key);
      warn(`livestep: sink "tensorboard:${options.directory}": ${message}`);
    }
  }

  function imageValue(tag: string, event: ImageEvent): SummaryValue | undefined {
    if (event.bytes === undefined) return undefined;
    const encoded = Buffer.from(event.bytes, 'base64');
    const size = readImageSize(encoded) ?? { width: 0, height: 0, colorspace: 0 };
    return { tag, kind: 'image', image: { ...size, encoded } };
  }

  /** A metric series' folder and its tag's bytes, worked out once per series. */
  function scalarPlace(name: string, labels: Labels | undefined): ScalarPlace {
    // NUL never occurs in a name: a labelled series cannot meet an unlabelled name.
    const key = labels === undefined ? name : `${name}\u0000${metricSeriesName('', labels)}`;
    let place = scalarPlaces.get(key);
    if (place === undefined) {
      const base = placeOf(name);
      const tag = labels === undefined ? base.tag : metricSeriesName(base.tag, labels);
      place = { folder: base.folder, tag: encodeTag(tag) };
      scalarPlaces.set(key, place);
    }
    return place;
  }

  /** The record an event becomes and its folder; undefined for an event with no TensorBoard form. */
  function toRecord(event: RunEvent): { folder: string; record: Uint8Array } | undefined {
    const seconds = event.ts / 1000;
    const summary = (place: TensorBoardPlace, step: number, value: SummaryValue) => ({
      folder: place.folder,
      record: encodeSummaryEvent(seconds, step, value),
    });
    switch (event.kind) {
      case 'metric': {
        latestStep = event.step;
        const place = scalarPlace(event.name, event.labels);
        const value = decodeMetricValue(event.value);
        return {
          folder: place.folder,
          record: encodeScalarEvent(seconds, event.step, place.tag, value),
        };
      }
      case 'image': {
        // The Run gives image names their file extension; a tag does not need one.
        const place = placeOf(event.name.replace(IMAGE_EXTENSION, ''));
        const value = imageValue(place.tag, event);
        return value && summary(place, event.step, value);
      }
      case 'plot': {
        const histogram = histogramFromPlot(event);
        if (histogram === undefined) return undefined;
        const place = placeOf(event.name);
        return summary(place, event.step ?? latestStep, {
          tag: place.tag,
          kind: 'histogram',
          histogram,
        });
      }
      case 'annotation': {
        const value: SummaryValue = {
          tag: ANNOTATIONS_TAG,
          kind: 'text',
          text: annotationText(event),
        };
        return summary({ folder: '', tag: ANNOTATIONS_TAG }, event.step ?? latestStep, value);
      }
      case 'params':
        // Merged here; written once per batch that changed them (see write).
        mergeParams(params, event.params);
        paramsChangedAt = event.ts;
        return undefined;
      default:
        // start, artifact and done have no TensorBoard form; other plots (confusion, ROC...)
        // stay with the directory sink and the server.
        return undefined;
    }
  }

  function fileFor(root: string, folder: string, createdAtMs: number): EventFile {
    let file = files.get(folder);
    if (file !== undefined && !file.usable) {
      file.close();
      files.delete(folder);
      file = undefined;
    }
    if (file === undefined) {
      file = createEventFile(join(root, ...folder.split('/')), createdAtMs, host, suffix);
      files.set(folder, file);
    }
    return file;
  }

  /** Writes one batch: one append per event file, each on its own (one failing loses only its own). */
  function write(batch: Batch): void {
    const root = directoryFor(batch);
    const records = new Map<string, Uint8Array[]>();
    for (const event of batch.events) {
      const entry = toRecord(event);
      if (entry === undefined) continue;
      const list = records.get(entry.folder);
      if (list === undefined) records.set(entry.folder, [entry.record]);
      else list.push(entry.record);
    }
    if (paramsChangedAt !== undefined) {
      const text = `\`\`\`json\n${JSON.stringify(params, null, 2)}\n\`\`\``;
      const value: SummaryValue = { tag: PARAMS_TAG, kind: 'text', text };
      const record = encodeSummaryEvent(paramsChangedAt / 1000, 0, value);
      const list = records.get('');
      if (list === undefined) records.set('', [record]);
      else list.push(record);
      paramsChangedAt = undefined;
    }
    for (const [folder, list] of records) {
      const path = join(root, ...folder.split('/'));
      try {
        fileFor(root, folder, Date.now()).append(list);
      } catch (error) {
        countFailure(error, list.length, path);
      }
    }
  }

  return {
    name: `tensorboard:${options.directory}`,
    // Synchronous, like the directory sink: see the top of this file.
    send: write,
    sendSync: write,
    close() {
      for (const file of files.values()) file.close();
      files.clear();
    },
    report(): SinkDeliveryState {
      const state: SinkDeliveryState = {
        pending: 0,
        failedByReason: failedEvents > 0 ? { send_error: failedEvents } : {},
      };
      if (lastError !== undefined) state.lastError = lastError;
      return state;
    },
  };
}
