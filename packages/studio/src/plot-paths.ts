/**
 * The paths DVC Studio files a live experiment's data under: the run folder relative to the DVC
 * root, joined to DVCLive's layout as core's directory sink writes it (`@livestep/core/sink-kit`:
 * the same module names each file for the sink, the Studio sink and the run-folder reader), so
 * the live view and the committed files are the same plots:
 *
 *   <dir>/params.yaml                 params
 *   <dir>/metrics.json                the summary (latest values)
 *   <dir>/plots/metrics/<name>.tsv    one series per metric (labels add `key=value` segments)
 *   <dir>/plots/images/<name>         images
 *   <dir>/plots/sklearn/<name>.json   roc, precision_recall, calibration, confusion_matrix
 *   <dir>/plots/custom/<name>.json    any other plot
 *
 * `<dir>` is POSIX; it is empty when the run folder is the DVC root itself.
 */
import {
  IMAGES_FOLDER,
  METRICS_SUMMARY_FILE,
  metricSeriesPath,
  PARAMS_FILE,
} from '@livestep/core/sink-kit';

export { metricColumnName } from '@livestep/core/sink-kit';

/** Joins POSIX path parts, skipping empty ones (a run folder that is the DVC root itself). */
export function joinPosix(...parts: string[]): string {
  return parts.filter((part) => part !== '').join('/');
}

export function paramsPath(directory: string): string {
  return joinPosix(directory, PARAMS_FILE);
}

export function metricsSummaryPath(directory: string): string {
  return joinPosix(directory, METRICS_SUMMARY_FILE);
}

export function metricPlotPath(directory: string, series: string): string {
  return joinPosix(directory, metricSeriesPath(series));
}

export function imagePath(directory: string, name: string): string {
  return joinPosix(directory, IMAGES_FOLDER, name);
}
