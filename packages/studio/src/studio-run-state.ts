/**
 * What the Studio sink knows about a run and what Studio has not acknowledged yet: the params,
 * the metrics summary, per metric series the rows not yet acknowledged (each already serialized
 * as the JSON object Studio gets), and the images and data plots logged since their last
 * acknowledgement. A data post sends only what is here, so its size depends on what was logged
 * since the previous post, never on the length of the run.
 */
import type { Batch, MetricValue, RunEvent, RunStatus } from '@livestep/core';
import {
  type DvclivePlotFile,
  dvclivePlotFile,
  mergeParams,
  metricSeriesName,
  nestMetrics,
} from '@livestep/core/sink-kit';
import { stringifyJsonSafe } from './json-safe.js';
import { imagePath, metricColumnName, metricPlotPath } from './plot-paths.js';

/**
 * Rows held for Studio before the oldest are dropped (and counted): at ~60 bytes a row this keeps
 * a Studio outage under ~30 MB of memory, and it is hours of a typical run's metrics.
 */
export const DEFAULT_MAX_UNACKNOWLEDGED_ROWS = 500_000;

/** Rows of one metric series not yet acknowledged; paths are relative to the run folder. */
export interface SeriesRows {
  path: string;
  rows: string[];
  /** The first `sending` rows are in a request right now (they are never dropped). */
  sending: number;
  /** Rows this posting cycle may still send (newer rows wait for the next cycle's summary). */
  quota: number;
}

/** An image or data plot, sent whole. A re-logged plot is a new object, so the one in flight is told apart. */
export interface WholePlot {
  path: string;
  value: string;
  valueBytes: number;
  /** This posting cycle may send it. */
  inCycle: boolean;
}

export interface RunEnding {
  status: RunStatus | undefined;
  errorName?: string;
  errorMessage?: string;
}

export type StateDropReason = 'queue_overflow' | 'rejected';

export interface RunStateOptions {
  maxUnacknowledgedRows: number;
  /** A plot whose JSON is larger than this cannot be sent (Studio's limit per plot). */
  maxPlotBytes: number;
  /** Called when data is dropped, with a one-line reason (the sink counts and warns once). */
  onDrop: (reason: StateDropReason, count: number, key: string, message: string) => void;
}

export class StudioRunState {
  /** The run's name, from the first batch. */
  runName: string | undefined;
  /** The start event's message, if any. */
  message: string | undefined;
  readonly params: Record<string, unknown> = {};
  hasParams = false;
  private readonly latestValues = new Map<string, MetricValue>();
  /** The highest step of any metric (the summary's `step`). */
  private metricStep: number | undefined;
  /** The highest step of anything logged: a data body's `step`. */
  step = 0;
  /** Grows with every change to params or the summary; the sink remembers which one it posted. */
  summaryVersion = 0;
  readonly series = new Map<string, SeriesRows>();
  readonly wholePlots = new Map<string, WholePlot>();
  unacknowledgedRows = 0;
  ending: RunEnding | undefined;

  constructor(private readonly options: RunStateOptions) {}

  /** Takes a batch in: O(events), no I/O. Events after `done` are ignored. */
  apply(batch: Batch): void {
    this.runName ??= batch.run.name;
    for (const event of batch.events) {
      if (this.ending !== undefined) return;
      this.applyEvent(event);
    }
    if (this.unacknowledgedRows > this.options.maxUnacknowledgedRows) this.dropOldestRows();
  }

  private applyEvent(event: RunEvent): void {
    switch (event.kind) {
      case 'start':
        this.runName = event.name;
        if (event.message !== undefined) this.message = event.message;
        break;
      case 'params':
        mergeParams(this.params, event.params);
        this.hasParams = true;
        this.summaryVersion++;
        break;
      case 'metric': {
        const series = metricSeriesName(event.name, event.labels);
        let entry = this.series.get(series);
        if (entry === undefined) {
          entry = { path: metricPlotPath('', series), rows: [], sending: 0, quota: 0 };
          this.series.set(series, entry);
        }
        const column = JSON.stringify(metricColumnName(series));
        const value =
          typeof event.value === 'number'
            ? stringifyJsonSafe(event.value)
            : JSON.stringify(event.value);
        entry.rows.push(
          `{"timestamp":"${Math.round(event.ts)}","step":${event.step},${column}:${value}}`,
        );
        this.unacknowledgedRows++;
        this.latestValues.set(series, event.value);
        if (this.metricStep === undefined || event.step > this.metricStep) {
          this.metricStep = event.step;
        }
        this.raiseStep(event.step);
        this.summaryVersion++;
        break;
      }
      case 'plot': {
        const file = dvclivePlotFile(event);
        this.setWholePlot(this.plotValue(file), event.step, `plot "${event.name}"`, file.path);
        break;
      }
      case 'image':
        if (event.bytes === undefined) break; // an image given by URI has no bytes to send
        this.setWholePlot(
          `{"image":${JSON.stringify(event.bytes)}}`,
          event.step,
          `image "${event.name}"`,
          imagePath('', event.name),
        );
        break;
      case 'done': {
        const ending: RunEnding = { status: event.status };
        if (event.error !== undefined) {
          if (event.error.name !== undefined) ending.errorName = event.error.name;
          ending.errorMessage = event.error.message;
        }
        this.ending = ending;
        break;
      }
      case 'annotation':
      case 'artifact':
        // Studio's live protocol has no place for notes or artifacts.
        break;
    }
  }

  /**
   * A plot as Studio's plot entry: `data` is a list of rows, so DVCLive's sklearn file shapes
   * (`{"roc": [...]}`) are sent as the list inside; `props` are its dvc.yaml properties.
   */
  private plotValue(file: DvclivePlotFile): string {
    const body: Record<string, unknown> = { data: file.rows };
    if (Object.keys(file.properties).length > 0) body.props = file.properties;
    return stringifyJsonSafe(body);
  }

  private raiseStep(step: number | undefined): void {
    if (step !== undefined && step > this.step) this.step = step;
  }

  private setWholePlot(value: string, step: number | undefined, what: string, path: string): void {
    this.raiseStep(step);
    const valueBytes = Buffer.byteLength(value);
    if (valueBytes > this.options.maxPlotBytes) {
      this.options.onDrop(
        'rejected',
        1,
        'plot_too_large',
        `livestep: ${what} is ${valueBytes} bytes as JSON, more than DVC Studio takes in one plot (${this.options.maxPlotBytes}); it is not sent to Studio (the directory sink still has it)`,
      );
      return;
    }
    const existing = this.wholePlots.get(path);
    // Re-logged before Studio took the previous one: only the newest is worth sending.
    if (existing !== undefined) this.wholePlots.delete(path);
    this.wholePlots.set(path, { path, value, valueBytes, inCycle: false });
  }

  /** The summary as metrics.json holds it: nested by `/`, plus `step`. */
  summary(): Record<string, unknown> | undefined {
    if (this.latestValues.size === 0) return undefined;
    return nestMetrics(this.latestValues, this.metricStep);
  }

  /** Drops the oldest rows not in flight, from the longest series first, down to the bound. */
  private dropOldestRows(): void {
    const excess = this.unacknowledgedRows - this.options.maxUnacknowledgedRows;
    let dropped = 0;
    while (dropped < excess) {
      let longest: SeriesRows | undefined;
      for (const entry of this.series.values()) {
        if (
          longest === undefined ||
          entry.rows.length - entry.sending > longest.rows.length - longest.sending
        ) {
          longest = entry;
        }
      }
      if (longest === undefined || longest.rows.length - longest.sending === 0) break;
      const count = Math.min(excess - dropped, longest.rows.length - longest.sending);
      longest.rows.splice(longest.sending, count);
      longest.quota = Math.max(0, longest.quota - count);
      dropped += count;
    }
    if (dropped === 0) return;
    this.unacknowledgedRows -= dropped;
    this.options.onDrop(
      'queue_overflow',
      dropped,
      'row_overflow',
      `livestep: more than ${this.options.maxUnacknowledgedRows} metric rows are waiting for DVC Studio; the oldest are dropped (and counted) until it takes them again`,
    );
  }

  /** Marks what exists now as this posting cycle's share; what is logged later waits for the next one. */
  beginCycle(): void {
    for (const entry of this.series.values()) entry.quota = entry.rows.length;
    for (const plot of this.wholePlots.values()) plot.inCycle = true;
  }

  /** Rows and plots still to send: acknowledged rows and plots are removed as they are acknowledged. */
  pendingCount(): number {
    return this.unacknowledgedRows + this.wholePlots.size;
  }

  /** Removes the first `count` rows of a series (acknowledged, or refused for good). */
  removeRows(entry: SeriesRows, count: number): void {
    entry.rows.splice(0, count);
    entry.sending = 0;
    entry.quota = Math.max(0, entry.quota - count);
    this.unacknowledgedRows -= count;
  }

  /** Removes a plot unless it was logged again meanwhile (then the newer one is still to send). */
  removeWholePlot(plot: WholePlot): void {
    if (this.wholePlots.get(plot.path) === plot) this.wholePlots.delete(plot.path);
    else plot.inCycle = false;
  }

  /** Forgets everything still unsent (Studio cannot take it); returns how much that was. */
  discardPending(): number {
    const count = this.pendingCount();
    this.series.clear();
    this.wholePlots.clear();
    this.unacknowledgedRows = 0;
    return count;
  }
}
