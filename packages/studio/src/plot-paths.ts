/**
 * The paths DVC Studio files a live experiment's data under. They mirror, file for file, what
 * `createDirectorySink` of @livestep/core writes (DVCLive's layout), so the live view and the
 * committed files are the same plots:
 *
 *   <dir>/params.yaml                 params
 *   <dir>/metrics.json                the summary (latest values)
 *   <dir>/plots/metrics/<name>.tsv    one series per metric (labels add `key=value` segments)
 *   <dir>/plots/images/<name>         images
 *   <dir>/plots/sklearn/<name>.json   roc, precision_recall, calibration, confusion_matrix
 *   <dir>/plots/custom/<name>.json    any other plot
 *
 * `<dir>` is the run folder relative to the DVC root, POSIX. A series' name and a plot's file
 * come from @livestep/core (`metricSeriesName`, `dvclivePlotFile`), which the directory sink uses too.
 */

/** Joins POSIX path parts, skipping empty ones (a run folder that is the DVC root itself). */
export function joinPosix(...parts: string[]): string {
  return parts.filter((part) => part !== '').join('/');
}

/** The value column of a series' TSV: the last segment of its name. */
export function metricColumnName(series: string): string {
  return series.slice(series.lastIndexOf('/') + 1);
}

export function paramsPath(directory: string): string {
  return joinPosix(directory, 'params.yaml');
}

export function metricsSummaryPath(directory: string): string {
  return joinPosix(directory, 'metrics.json');
}

export function metricPlotPath(directory: string, series: string): string {
  return joinPosix(directory, 'plots', 'metrics', `${series}.tsv`);
}

export function imagePath(directory: string, name: string): string {
  return joinPosix(directory, 'plots', 'images', name);
}
