/**
 * What the Studio sink has to post, as plot sources for a chunk: every series' rows not yet
 * acknowledged (up to its quota this cycle) and every whole plot changed in this cycle, with the
 * state object each came from, so the rows a 200 acknowledges can be removed from it.
 */
import type { Batch } from '@livestep/core';
import type { PlotSource } from './plot-chunks.js';
import { type BodyContext, studioPath } from './studio-bodies.js';
import type { SeriesRows, StudioRunState, WholePlot } from './studio-run-state.js';

export function plotSources(
  state: StudioRunState,
  context: BodyContext,
): { sources: PlotSource[]; owners: Array<SeriesRows | WholePlot> } {
  const sources: PlotSource[] = [];
  const owners: Array<SeriesRows | WholePlot> = [];
  for (const series of state.series.values()) {
    const available = Math.min(series.quota, series.rows.length);
    if (available === 0) continue;
    sources.push({
      kind: 'rows',
      path: studioPath(context, series.path),
      rows: series.rows,
      available,
    });
    owners.push(series);
  }
  for (const plot of state.wholePlots.values()) {
    if (!plot.inCycle) continue;
    sources.push({
      kind: 'whole',
      path: studioPath(context, plot.path),
      value: plot.value,
      valueBytes: plot.valueBytes,
    });
    owners.push(plot);
  }
  return { sources, owners };
}

/** Data points in a batch (what a disabled sink counts as failed). */
export function dataEventCount(batch: Batch): number {
  let count = 0;
  for (const event of batch.events) {
    if (event.kind === 'metric' || event.kind === 'plot' || event.kind === 'image') count++;
  }
  return count;
}
