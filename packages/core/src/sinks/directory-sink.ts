// biome-ignore-all lint/style/noExcessiveLinesPerFile: one sink's state (open series files, summary, plots, dvc.yaml entries) and the one pass that writes a batch; the layout, dvc.yaml merge, resume and append helpers are in their own files.
/**
 * The directory sink writes a run in DVCLive's layout (../dvclive/layout.ts), so `dvc plots show`,
 * `dvc metrics show`, `dvc exp show` and DVC Studio read it as if DVCLive had written it, and
 * keeps dvc.yaml (beside the run folder) listing its metrics, params, plots and artifacts.
 *
 * A batch is written in one synchronous pass: one append per TSV (descriptors kept open), then
 * metrics.json and params.yaml replaced atomically (temp file + rename), then dvc.yaml if its
 * entries changed. `send` returns when the batch is on disk, so the dispatcher writes the files
 * from whichever call sealed the batch: they grow while a loop that never yields trains, and a
 * process killed at any moment leaves every file parseable (at worst a batch short).
 *
 * Unlike DVCLive it appends TSV rows without re-reading them and rewrites the summary once per
 * batch, not once per step, so a long run costs the same per point as a short one.
 */
import { mkdirSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import YAML from 'yaml';
import { emitLivestepWarning } from '../delivery/livestep-warning.js';
import { type DvcYamlEntry, mergeDvcYaml } from '../dvclive/dvc-yaml.js';
import {
  CUSTOM_PLOTS_FOLDER,
  type DvcPlotProperties,
  dvclivePlotFile,
  IMAGES_FOLDER,
  METRICS_FOLDER,
  METRICS_SUMMARY_FILE,
  metricSeriesHeader,
  metricSeriesName,
  metricSeriesPath,
  metricSeriesRow,
  nestMetrics,
  PARAMS_FILE,
  SKLEARN_FOLDER,
} from '../dvclive/layout.js';
import {
  RUN_IDENTITY_FILE,
  type RunIdentityRecord,
  readRunIdentity,
  writeRunIdentity,
} from '../dvclive/run-identity.js';
import { readSavedRun } from '../dvclive/saved-run.js';
import type { Sink, SinkDeliveryState } from '../pipeline/sink.js';
import type { Batch, MetricValue, PlotEvent, RunEvent } from '../protocol/events.js';
import { mergeParams } from '../run/params.js';
import { createAppendFiles, writeFileAtomically } from './append-files.js';
import { type FolderLock, lockFolder } from './folder-lock.js';

export interface DirectorySinkOptions {
  /** The run's folder (default `livestep`, relative to the working directory). */
  directory?: string;
  /**
   * The dvc.yaml to keep up to date: a path, or false for none. Default: `dvc.yaml` in the folder
   * that holds `directory`, as DVCLive does. Its other entries, comments and layout are kept.
   */
  dvcYaml?: string | false;
  /** Keep what the folder holds and append to it (DVCLive's resume). Default false: start clean. */
  resume?: boolean;
  /** Where a problem that loses no data goes (an unreadable dvc.yaml). Default: process.emitWarning. */
  onWarning?: (message: string) => void;
  /**
   * Who writes the folder, for the message a second writer gets while this one holds it (default:
   * the run named in the first batch, once it arrives).
   */
  writer?: string;
}

/** What a new (not resumed) run removes first, as DVCLive does. */
const RESET_PATHS = [
  METRICS_FOLDER,
  IMAGES_FOLDER,
  CUSTOM_PLOTS_FOLDER,
  SKLEARN_FOLDER,
  METRICS_SUMMARY_FILE,
  PARAMS_FILE,
  'report.html',
  'report.md',
  RUN_IDENTITY_FILE,
];

function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 4)}\n`;
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** Errors of a full or failing disk, explained as such rather than passed on bare. */
const DISK_ERRORS = new Set(['ENOSPC', 'EFBIG', 'EDQUOT', 'EIO', 'EROFS']);

/** A metric series' file, resolved once per series rather than once per point. */
interface SeriesFile {
  /** The series' name: the metric's, plus a `key=value` segment per label. */
  series: string;
  path: string;
  /** Whether its points carry labels; undefined until the first point was seen. */
  labelled: boolean | undefined;
  /** The TSV's header, until it is written. */
  header: string | undefined;
}

export function createDirectorySink(options: DirectorySinkOptions = {}): Sink {
  const directory = resolve(options.directory ?? 'livestep');
  const warn = options.onWarning ?? emitLivestepWarning;
  const dvcYamlPath =
    options.dvcYaml === false
      ? undefined
      : resolve(options.dvcYaml ?? join(dirname(directory), 'dvc.yaml'));
  const dvcYamlDirectory = dvcYamlPath === undefined ? directory : dirname(dvcYamlPath);
  /** Paths as dvc.yaml writes them: POSIX, relative to dvc.yaml's folder. */
  const forDvcYaml = (path: string) => relative(dvcYamlDirectory, path).split(sep).join('/');
  /** True for a dvc.yaml path inside this run's folder (the entries this sink owns). */
  const isRunPath = (path: string) => {
    const absolute = resolve(dvcYamlDirectory, path);
    return absolute === directory || absolute.startsWith(directory + sep);
  };
  /** A layout path (POSIX, relative to the run folder) as a native path inside it. */
  const inRun = (path: string) => join(directory, ...path.split('/'));
  const metricsFile = inRun(METRICS_SUMMARY_FILE);
  const paramsFile = inRun(PARAMS_FILE);
  const files = createAppendFiles();
  // One writer per folder (see folder-lock.ts): refused here, before the run starts, with the fix.
  let lock: FolderLock | undefined = lockFolder(directory, options.writer ?? 'a livestep run');
  const releaseLock = () => {
    lock?.release();
    lock = undefined;
  };

  // A resumed run keeps what the folder holds: its summary, step and params. A folder it cannot
  // read refuses the run, and must not stay locked by it.
  let saved: ReturnType<typeof readSavedRun> | undefined;
  try {
    saved = options.resume ? readSavedRun(directory) : undefined;
  } catch (error) {
    releaseLock();
    throw error;
  }
  for (const torn of saved?.tornFiles ?? []) {
    // A row cut off by a killed writer is not data; appending after it would glue two rows.
    truncateSync(torn.path, torn.keepBytes);
    warn(
      `livestep: ${torn.path} ended in a row cut off when its writer was killed; that row was removed before resuming`,
    );
  }
  const latestValues = new Map<string, MetricValue>(saved?.latestValues);
  let latestStep: number | undefined = saved?.step;
  const params: Record<string, unknown> = saved?.params ?? {};
  /** livestep.json: who wrote the folder; a resumed run keeps the labelled series before it. */
  let identity: RunIdentityRecord | undefined;
  const earlierSeries = options.resume ? readRunIdentity(directory)?.series : undefined;
  const seriesFiles = new Map<string, SeriesFile>();
  /** Plot files written so far, with their dvc.yaml properties. */
  const plotFiles = new Map<string, DvcPlotProperties>();
  const artifacts = new Map<string, { path: string; type: string }>();
  let hasMetrics = latestValues.size > 0;
  let hasImages = false;
  let hasParams = Object.keys(params).length > 0;
  let resetDone = options.resume === true;
  let dvcYamlBroken = false;

  function reset(): void {
    files.closeAll();
    for (const path of RESET_PATHS) rmSync(inRun(path), { recursive: true, force: true });
    files.forgetUnder(directory);
    seriesFiles.clear();
    mkdirSync(directory, { recursive: true });
  }

  function seriesFile(name: string, labels: Record<string, string> | undefined): SeriesFile {
    const key = labels === undefined ? name : metricSeriesName(name, labels);
    let file = seriesFiles.get(key);
    if (file === undefined) {
      const path = inRun(metricSeriesPath(key));
      // A resumed run appends to an existing file, whose header is already there.
      const hasHeader = options.resume === true && fileSize(path) > 0;
      file = {
        series: key,
        path,
        labelled: undefined,
        header: hasHeader ? undefined : metricSeriesHeader(key),
      };
      seriesFiles.set(key, file);
    }
    return file;
  }

  function writePlot(event: PlotEvent): boolean {
    const file = dvclivePlotFile(event);
    const path = inRun(file.path);
    writeFileAtomically(path, toJson(file.content));
    const isNew = !plotFiles.has(path);
    plotFiles.set(path, file.properties);
    return isNew;
  }

  function dvcYamlEntries() {
    const plots: DvcYamlEntry[] = [];
    if (hasMetrics) plots.push({ [forDvcYaml(inRun(METRICS_FOLDER))]: { x: 'step' } });
    if (hasImages) plots.push(forDvcYaml(inRun(IMAGES_FOLDER)));
    for (const [path, properties] of plotFiles) {
      plots.push(
        Object.keys(properties).length > 0 ? { [forDvcYaml(path)]: properties } : forDvcYaml(path),
      );
    }
    return {
      metrics: hasMetrics ? [forDvcYaml(metricsFile)] : [],
      params: hasParams ? [forDvcYaml(paramsFile)] : [],
      plots,
      artifacts,
    };
  }

  function writeDvcYaml(path: string): void {
    let existing: string | undefined;
    try {
      existing = readFileSync(path, 'utf8');
    } catch {
      existing = undefined;
    }
    try {
      const text = mergeDvcYaml(existing, dvcYamlEntries(), {
        isRunPath,
        keepEarlierRunEntries: options.resume === true,
      });
      if (text !== existing) writeFileAtomically(path, text);
      dvcYamlBroken = false;
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
      // The user's file is kept as it is; the run's own files are complete without it.
      if (!dvcYamlBroken) {
        warn(
          `livestep: ${path} was left unchanged: ${error.message}; fix it and the next batch updates it`,
        );
      }
      dvcYamlBroken = true;
    }
  }

  /** Writes one batch: TSV appends first (the data), then the summaries that describe it. */
  function write(batch: Batch): void {
    const appends = new Map<SeriesFile, { text: string; count: number }>();
    let finished = false;
    let identityChanged = false;
    let summaryChanged = false;
    let paramsChanged = false;
    let dvcYamlChanged = false;

    const handle = (event: RunEvent) => {
      switch (event.kind) {
        case 'start':
          if (!resetDone) {
            reset();
            resetDone = true;
          }
          if (options.writer === undefined) lock?.describe(`run "${event.name}" (${batch.run.id})`);
          identity = {
            protocol: 1,
            run: { id: batch.run.id, experiment: batch.run.experiment, name: batch.run.name },
            status: 'running',
            series: Object.assign(Object.create(null), earlierSeries),
          };
          identityChanged = true;
          dvcYamlChanged = true;
          break;
        case 'params':
          mergeParams(params, event.params);
          hasParams = true;
          paramsChanged = true;
          break;
        case 'metric': {
          const file = seriesFile(event.name, event.labels);
          if (file.labelled === undefined && event.labels !== undefined && identity !== undefined) {
            identity.series[file.series] = { name: event.name, labels: event.labels };
            identityChanged = true;
          }
          file.labelled = event.labels !== undefined;
          const row = metricSeriesRow(event.ts, event.step, event.value);
          const pending = appends.get(file);
          if (pending === undefined) appends.set(file, { text: row, count: 1 });
          else {
            pending.text += row;
            pending.count++;
          }
          latestValues.set(
            event.labels === undefined ? event.name : metricSeriesName(event.name, event.labels),
            event.value,
          );
          // As DVCLive's summary: the step of the latest values, not the highest step of any
          // series (per-batch series run far ahead of the epoch or evaluation summary).
          latestStep = event.step;
          summaryChanged = true;
          if (!hasMetrics) {
            hasMetrics = true;
            dvcYamlChanged = true;
          }
          break;
        }
        case 'plot':
          storeOrCount(() => {
            dvcYamlChanged = writePlot(event) || dvcYamlChanged;
          }, 1);
          break;
        case 'image':
          if (event.bytes !== undefined) {
            const bytes = event.bytes;
            if (
              !storeOrCount(
                () =>
                  writeFileAtomically(
                    inRun(`${IMAGES_FOLDER}/${event.name}`),
                    Buffer.from(bytes, 'base64'),
                  ),
                1,
              )
            )
              break;
            if (!hasImages) {
              hasImages = true;
              dvcYamlChanged = true;
            }
          }
          break;
        case 'artifact': {
          const path = isAbsolute(event.path) ? event.path : resolve(event.path);
          artifacts.set(event.name, { path: forDvcYaml(path), type: event.type });
          dvcYamlChanged = true;
          break;
        }
        case 'done':
          summaryChanged = true;
          finished = true;
          if (identity !== undefined) {
            identity.status = event.status;
            if (event.error !== undefined) identity.error = event.error;
            identityChanged = true;
          }
          break;
        case 'annotation':
          // DVCLive's layout has no place for notes; the JSONL sink and the server keep them.
          break;
      }
    };
    for (const event of batch.events) handle(event);

    for (const [file, rows] of appends) {
      const text = file.header === undefined ? rows.text : file.header + rows.text;
      if (storeOrCount(() => files.append(file.path, text), rows.count)) file.header = undefined;
    }
    // The summaries describe the data above; a failure to rewrite one loses no event.
    if (summaryChanged && hasMetrics) {
      storeOrCount(
        () => writeFileAtomically(metricsFile, toJson(nestMetrics(latestValues, latestStep))),
        0,
      );
    }
    if (paramsChanged)
      storeOrCount(() => writeFileAtomically(paramsFile, YAML.stringify(params)), 0);
    if (identityChanged && identity !== undefined) {
      const record = identity;
      storeOrCount(() => writeRunIdentity(directory, record), 0);
    }
    if (dvcYamlChanged && dvcYamlPath !== undefined) {
      storeOrCount(() => writeDvcYaml(dvcYamlPath), 0);
    }
    // The run is over: the folder is free for the next one at once, before close().
    if (finished) releaseLock();
  }

  /** Events whose file could not be written, for the flush report. */
  let failedEvents = 0;
  let lastError: string | undefined;
  const warnedAbout = new Set<string>();

  /**
   * Runs one file's write; when it fails, counts the events it held and warns once per kind of
   * failure, so that one file that cannot be written never takes the batch's other files with it.
   * Returns whether the write succeeded.
   */
  function storeOrCount(store: () => void, events: number): boolean {
    try {
      store();
      return true;
    } catch (error) {
      failedEvents += events;
      const failure = error as NodeJS.ErrnoException;
      const code = failure.code ?? 'error';
      const message = DISK_ERRORS.has(code)
        ? `the disk refused a write in ${directory} (${failure.message}); events from then on are not in the folder, and the flush report counts them. Free space, or point LIVESTEP_DIR at another disk`
        : `cannot write in ${directory} (${failure.message}); the events of that file are not in the folder, and the flush report counts them`;
      lastError = message;
      const key = DISK_ERRORS.has(code) ? 'disk' : code;
      if (!warnedAbout.has(key)) {
        warnedAbout.add(key);
        warn(`livestep: sink "directory:${directory}": ${message}`);
      }
      return false;
    }
  }

  return {
    name: `directory:${directory}`,
    // Synchronous: see the top of this file.
    send: write,
    sendSync: write,
    close() {
      files.closeAll();
      releaseLock();
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
