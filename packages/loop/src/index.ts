/**
 * @livestep/loop: any step loop tracked in one line, with terminal progress, timers and system
 * metrics.
 *
 *   import { track } from '@livestep/loop';
 *   const loop = track(epochs, { description: 'train', systemMetrics: true });
 *   for (const epoch of loop) {
 *     loop.logMetric('train/loss', trainOneEpoch(epoch));
 *   }
 */
export { DEFAULT_LINE_INTERVAL_MS } from './progress-lines.js';
export type { LoopOutcome, ProgressMode, ProgressStream } from './progress-reporter.js';
export { type MetricTarget, startTimer, time } from './timers.js';
export { type TrackOptions, track } from './track.js';
export { type AnyTrackedLoop, type LoopBody, trackEach } from './track-each.js';
export type { AsyncTrackedLoop, TrackedLoop } from './tracked-loop.js';
