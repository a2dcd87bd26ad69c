/**
 * Plots drawn from their data (the protocol sends rows, not pictures): a confusion matrix as a
 * heatmap, ROC, PR, calibration and line plots as lines, scatter as points, bar as bars, and any
 * other kind (table, custom) as a table of its rows.
 */
import uPlot from 'uplot';
import type { PlotRecord } from './api-types.js';
import { formatValue, h } from './dom.js';
import { runColor, themeColor } from './palette.js';

const PLOT_WIDTH = 360;
const PLOT_HEIGHT = 260;
/** Rows a table shows at most (the rest are counted). */
const MAX_TABLE_ROWS = 200;

const numeric = (value: unknown) => (typeof value === 'number' ? value : Number(value));

function confusionHeatmap(plot: PlotRecord): HTMLElement {
  const xKey = plot.x ?? 'actual';
  const yKey = plot.y ?? 'predicted';
  const counts = new Map<string, number>();
  const classes = new Set<string>();
  for (const row of plot.rows) {
    const actual = String(row[xKey]);
    const predicted = String(row[yKey]);
    classes.add(actual);
    classes.add(predicted);
    const key = `${actual}\u0000${predicted}`;
    counts.set(key, (counts.get(key) ?? 0) + (row.count === undefined ? 1 : numeric(row.count)));
  }
  const labels = [...classes].sort();
  const max = Math.max(1, ...counts.values());
  return h(
    'table',
    { class: 'heatmap', 'data-plot-kind': 'confusion' },
    h('caption', {}, `${plot.yLabel ?? yKey} (columns) by ${plot.xLabel ?? xKey} (rows)`),
    h('tr', {}, h('th', {}), ...labels.map((label) => h('th', { scope: 'col' }, label))),
    ...labels.map((actual) =>
      h(
        'tr',
        {},
        h('th', { scope: 'row' }, actual),
        ...labels.map((predicted) => {
          const count = counts.get(`${actual}\u0000${predicted}`) ?? 0;
          const strength = count / max;
          return h(
            'td',
            {
              style: `background:rgba(78,121,167,${(0.08 + 0.85 * strength).toFixed(3)});color:${strength > 0.5 ? '#fff' : 'inherit'}`,
              'data-count': count,
            },
            String(count),
          );
        }),
      ),
    ),
  );
}

function curve(plot: PlotRecord, points: boolean): HTMLElement {
  const defaults: Record<string, [string, string]> = {
    roc: ['fpr', 'tpr'],
    pr: ['recall', 'precision'],
    calibration: ['prob_pred', 'prob_true'],
  };
  const [xKey, yKey] = [
    plot.x ?? defaults[plot.plotKind]?.[0] ?? 'x',
    plot.y ?? defaults[plot.plotKind]?.[1] ?? 'y',
  ];
  const pairs = plot.rows
    .map((row) => [numeric(row[xKey]), numeric(row[yKey])] as [number, number])
    .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
    .sort((a, b) => a[0] - b[0]);
  const holder = h('div', {
    class: 'plot-canvas',
    'data-plot-kind': plot.plotKind,
    'data-points': pairs.length,
  });
  const foreground = themeColor('--muted', '#666');
  const grid = themeColor('--grid', 'rgba(128,128,128,0.15)');
  const axis = { stroke: foreground, grid: { stroke: grid }, ticks: { stroke: grid } };
  const options: uPlot.Options = {
    width: PLOT_WIDTH,
    height: PLOT_HEIGHT,
    legend: { show: false },
    scales: { x: { time: false } },
    axes: [
      { ...axis, label: plot.xLabel ?? xKey },
      { ...axis, label: plot.yLabel ?? yKey, size: 50 },
    ],
    series: [
      {},
      {
        stroke: runColor(0),
        width: points ? 0 : 2,
        points: { show: points, size: 5, fill: runColor(0) },
        ...(points && { paths: () => null }),
      },
    ],
  };
  const data: uPlot.AlignedData = [pairs.map((pair) => pair[0]), pairs.map((pair) => pair[1])];
  // Drawn once the holder is in the document (uPlot measures it).
  requestAnimationFrame(() => new uPlot(options, data, holder));
  return holder;
}

function bars(plot: PlotRecord): HTMLElement {
  const xKey = plot.x ?? 'x';
  const yKey = plot.y ?? 'y';
  const max = Math.max(1e-12, ...plot.rows.map((row) => Math.abs(numeric(row[yKey])) || 0));
  return h(
    'div',
    { class: 'bars', 'data-plot-kind': 'bar' },
    ...plot.rows.slice(0, MAX_TABLE_ROWS).map((row) => {
      const value = numeric(row[yKey]);
      return h(
        'div',
        { class: 'bar-row' },
        h('span', { class: 'bar-label' }, String(row[xKey])),
        h('span', { class: 'bar', style: `width:${((Math.abs(value) / max) * 100).toFixed(1)}%` }),
        h('span', { class: 'bar-value' }, formatValue(value)),
      );
    }),
  );
}

export function rowsTable(rows: Array<Record<string, unknown>>): HTMLElement {
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const shown = rows.slice(0, MAX_TABLE_ROWS);
  return h(
    'div',
    { class: 'table-scroll' },
    h(
      'table',
      { class: 'data-table' },
      h('tr', {}, ...columns.map((column) => h('th', { scope: 'col' }, column))),
      ...shown.map((row) =>
        h(
          'tr',
          {},
          ...columns.map((column) => {
            const value = row[column];
            return h(
              'td',
              {},
              typeof value === 'number' ? formatValue(value) : String(value ?? ''),
            );
          }),
        ),
      ),
    ),
    rows.length > shown.length
      ? h('p', { class: 'note' }, `${rows.length - shown.length} more rows`)
      : null,
  );
}

export function plotView(plot: PlotRecord): HTMLElement {
  let body: HTMLElement;
  switch (plot.plotKind) {
    case 'confusion':
      body = confusionHeatmap(plot);
      break;
    case 'roc':
    case 'pr':
    case 'calibration':
    case 'line':
      body = curve(plot, false);
      break;
    case 'scatter':
      body = curve(plot, true);
      break;
    case 'bar':
      body = bars(plot);
      break;
    default:
      body = rowsTable(plot.rows);
  }
  return h(
    'figure',
    { class: 'plot', 'data-plot': plot.name },
    h(
      'figcaption',
      {},
      plot.title ?? plot.name,
      plot.step === undefined ? '' : ` (step ${plot.step})`,
    ),
    body,
  );
}
