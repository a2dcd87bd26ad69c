/**
 * livestep plots as the Plotly figures ClearML's `plot` events carry in `plot_str` (backends.md
 * A.5): a confusion matrix becomes a heatmap (actual on y, predicted on x); ROC, precision-recall
 * and calibration curves, line and custom plots become lines; scatter plots markers; bar plots
 * bars; tables a Plotly table. Non-finite numbers (and their "nan", "inf", "-inf" forms on an
 * axis) become null, a gap, as the SDK does for NaN (JSON has no NaN, and a body ClearML cannot
 * parse would be refused).
 */
import type { PlotEvent } from '../../protocol/events.js';

export interface PlotlyFigure {
  data: Array<Record<string, unknown>>;
  layout: Record<string, unknown>;
}

type Row = PlotEvent['rows'][number];

/** The x and y columns each curve kind is drawn from (DVCLive's sklearn plots). */
const CURVE_AXES: Partial<Record<PlotEvent['plotKind'], { x: string; y: string }>> = {
  roc: { x: 'fpr', y: 'tpr' },
  pr: { x: 'recall', y: 'precision' },
  calibration: { x: 'prob_pred', y: 'prob_true' },
};

function cell(value: Row[string] | undefined): string | number | boolean | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  return value ?? null;
}

/** A point on an axis: livestep keeps NaN and ±inf in plot rows as "nan", "inf", "-inf". */
function point(value: Row[string] | undefined): string | number | boolean | null {
  return value === 'nan' || value === 'inf' || value === '-inf' ? null : cell(value);
}

function axisTitle(text: string | undefined): Record<string, unknown> {
  return text === undefined ? {} : { title: { text } };
}

function heatmap(event: PlotEvent): PlotlyFigure {
  const labels = new Map<string, number>();
  for (const row of event.rows) {
    for (const side of ['actual', 'predicted'] as const) {
      const label = String(row[side]);
      if (!labels.has(label)) labels.set(label, labels.size);
    }
  }
  const names = [...labels.keys()];
  const z = names.map(() => names.map(() => 0));
  for (const row of event.rows) {
    const actual = labels.get(String(row.actual)) ?? 0;
    const predicted = labels.get(String(row.predicted)) ?? 0;
    const count = typeof row.count === 'number' && Number.isFinite(row.count) ? row.count : 1;
    const line = z[actual];
    if (line !== undefined) line[predicted] = (line[predicted] ?? 0) + count;
  }
  return {
    data: [{ type: 'heatmap', x: names, y: names, z, colorscale: 'Blues' }],
    layout: {
      title: { text: event.title ?? event.name },
      xaxis: { title: { text: event.xLabel ?? 'Predicted' }, type: 'category' },
      yaxis: { title: { text: event.yLabel ?? 'Actual' }, type: 'category', autorange: 'reversed' },
    },
  };
}

function table(event: PlotEvent): PlotlyFigure {
  const columns: string[] = [];
  for (const row of event.rows)
    for (const key of Object.keys(row)) if (!columns.includes(key)) columns.push(key);
  return {
    data: [
      {
        type: 'table',
        header: { values: columns },
        cells: { values: columns.map((column) => event.rows.map((row) => cell(row[column]))) },
      },
    ],
    layout: { title: { text: event.title ?? event.name } },
  };
}

/** The x and y columns: the event's own, the curve's, else the first two of the first row. */
function axes(event: PlotEvent): { x: string; y: string } {
  const curve = CURVE_AXES[event.plotKind];
  const columns = Object.keys(event.rows[0] ?? {});
  const x = event.x ?? curve?.x ?? columns[0] ?? 'x';
  const y = event.y ?? curve?.y ?? columns.find((column) => column !== x) ?? 'y';
  return { x, y };
}

export function plotlyFigure(event: PlotEvent): PlotlyFigure {
  if (event.plotKind === 'confusion') return heatmap(event);
  if (event.plotKind === 'table') return table(event);
  const { x, y } = axes(event);
  const trace: Record<string, unknown> = {
    x: event.rows.map((row) => point(row[x])),
    y: event.rows.map((row) => point(row[y])),
    name: event.name,
  };
  if (event.plotKind === 'bar') trace.type = 'bar';
  else {
    trace.type = 'scatter';
    trace.mode = event.plotKind === 'scatter' ? 'markers' : 'lines';
  }
  const layout: Record<string, unknown> = {
    title: { text: event.title ?? event.name },
    xaxis: axisTitle(event.xLabel ?? x),
    yaxis: axisTitle(event.yLabel ?? y),
  };
  if (event.plotKind === 'roc') {
    // The chance line, as ROC plots draw it.
    return {
      data: [
        trace,
        {
          type: 'scatter',
          mode: 'lines',
          x: [0, 1],
          y: [0, 1],
          name: 'chance',
          line: { dash: 'dash' },
        },
      ],
      layout,
    };
  }
  return { data: [trace], layout };
}
