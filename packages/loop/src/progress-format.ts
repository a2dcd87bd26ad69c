/**
 * How progress reads on a terminal or in a log: durations like tqdm (`01:05`, `1:02:03`), rates
 * that flip to seconds per iteration when slow (`2.50 s/it`), metric values short enough to fit.
 */
import type { ProgressSnapshot } from './progress-meter.js';

/** Significant digits of a metric value on the progress line: enough to see a loss move. */
const METRIC_SIGNIFICANT_DIGITS = 4;
/** Values this large or this small (but not zero) are shown in exponent form, to stay short. */
const EXPONENT_ABOVE = 1e5;
const EXPONENT_BELOW = 1e-3;

/** `05:07` under an hour, `1:02:03` above, like tqdm; `?` when unknown. */
export function formatDuration(milliseconds: number | undefined): string {
  if (milliseconds === undefined || !Number.isFinite(milliseconds) || milliseconds < 0) return '?';
  const totalSeconds = Math.floor(milliseconds / 1000);
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  const twoDigits = (value: number) => String(value).padStart(2, '0');
  return hours > 0
    ? `${hours}:${twoDigits(minutes)}:${twoDigits(seconds)}`
    : `${twoDigits(minutes)}:${twoDigits(seconds)}`;
}

/** `350.2 it/s`, or `2.50 s/it` below one iteration a second; `? it/s` before the first. */
export function formatRate(iterationsPerSecond: number | undefined): string {
  if (iterationsPerSecond === undefined || !(iterationsPerSecond > 0)) return '? it/s';
  if (iterationsPerSecond < 1) return `${(1 / iterationsPerSecond).toFixed(2)} s/it`;
  if (iterationsPerSecond < 100) return `${iterationsPerSecond.toFixed(2)} it/s`;
  return `${iterationsPerSecond.toFixed(1)} it/s`;
}

/** A metric value in a few characters: `0.1235`, `1.235e-5`, `nan`. */
export function formatMetricValue(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Number.POSITIVE_INFINITY) return 'inf';
  if (value === Number.NEGATIVE_INFINITY) return '-inf';
  if (Number.isInteger(value) && Math.abs(value) < EXPONENT_ABOVE) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude >= EXPONENT_ABOVE || magnitude < EXPONENT_BELOW)) {
    return value.toExponential(METRIC_SIGNIFICANT_DIGITS - 1).replace(/\.?0+e/, 'e');
  }
  return String(Number(value.toPrecision(METRIC_SIGNIFICANT_DIGITS)));
}

/** `train/loss=0.1235 eval/accuracy=0.9` in the order the metrics were first logged. */
export function formatMetrics(metrics: ReadonlyMap<string, number>): string {
  let text = '';
  for (const [name, value] of metrics) {
    text += `${text === '' ? '' : ' '}${name}=${formatMetricValue(value)}`;
  }
  return text;
}

/** `120/1000 (12%)` with a total, `120 it` without. */
export function formatCount(count: number, total: number | undefined): string {
  if (total === undefined) return `${count} it`;
  const percent = total === 0 ? 100 : Math.floor((100 * count) / total);
  return `${count}/${total} (${percent}%)`;
}

/**
 * One plain line for a log: `train 120/1000 (12%) | 350.2 it/s | 00:03<00:25 | train/loss=0.123`;
 * `suffix` says how the loop ended on the last line (`done`, `stopped`, `failed`).
 */
export function formatProgressLine(snapshot: ProgressSnapshot, suffix?: string): string {
  const parts: string[] = [];
  const head = formatCount(snapshot.count, snapshot.total);
  parts.push(snapshot.description === undefined ? head : `${snapshot.description} ${head}`);
  parts.push(formatRate(snapshot.rate));
  parts.push(
    snapshot.total === undefined || suffix !== undefined
      ? formatDuration(snapshot.elapsedMs)
      : `${formatDuration(snapshot.elapsedMs)}<${formatDuration(snapshot.etaMs)}`,
  );
  const metrics = formatMetrics(snapshot.metrics);
  if (metrics !== '') parts.push(metrics);
  if (suffix !== undefined) parts.push(suffix);
  return parts.join(' | ');
}
