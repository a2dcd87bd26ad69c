/**
 * One chart: one metric, the chosen runs overlaid, drawn by uPlot. Per run, the debiased EMA as
 * the line, the raw values faint behind it, and the min/max band of the server's buckets (a
 * spike in a bucket shows in the band even where the line does not reach it). Live data is
 * redrawn at most once per animation frame, keeping the user's zoom; a zoom asks the owner for
 * finer buckets of the range; double-click zooms back out. The hover legend lists every run's
 * value at the cursor.
 */
import uPlot from 'uplot';
import type { XAxis } from './api-types.js';
import { chartSvg } from './chart-svg.js';
import { formatValue, h } from './dom.js';
import { themeColor, withAlpha } from './palette.js';
import type { SeriesData } from './series-cache.js';
import { debiasedEma } from './smoothing.js';

const CHART_HEIGHT = 220;
/** Series per run: smoothed line, raw line, min, max. */
const SERIES_PER_RUN = 4;
/** Draws remembered for the latency hook (logMetric -> point drawn), newest kept. */
const MAX_DRAW_RECORDS = 20_000;
/** Tick spacings on a step axis: 1, 2, 5, 10, 20, 50, ... */
const STEP_INCREMENTS = Array.from(
  { length: 36 },
  (_, index) => [1, 2, 5][index % 3]! * 10 ** Math.floor(index / 3),
);
/** Steps of one run recorded per redraw at most. */
const MAX_RECORDS_PER_DRAW = 50;

export interface ChartRun {
  id: string;
  name: string;
  color: string;
  data: SeriesData;
}

export interface ChartOptions {
  axis: XAxis;
  logY: boolean;
  smoothing: number;
  /** x positions of annotations, drawn as vertical markers. */
  markers?: number[];
  /** The user zoomed to [from, to] on x, or back out (undefined). */
  onZoom(range: { from: number; to: number } | undefined): void;
}

/** When each step of each series was first drawn, for the latency measurement. */
export const drawRecords: Array<{ run: string; metric: string; step: number; at: number }> = [];

export class MetricChart {
  readonly element: HTMLElement;
  private readonly canvasHolder: HTMLElement;
  private readonly legend: HTMLElement;
  private plot: uPlot | undefined;
  private runs: ChartRun[] = [];
  private zoomed = false;
  private applying = false;
  private frame = 0;
  private readonly drawnSteps = new Map<string, number>();
  private readonly resize: ResizeObserver;

  constructor(
    readonly metric: string,
    private options: ChartOptions,
    actions: HTMLElement,
  ) {
    this.canvasHolder = h('div', { class: 'chart-canvas' });
    this.legend = h('div', { class: 'chart-legend', 'aria-live': 'off' });
    this.element = h(
      'figure',
      { class: 'chart', 'data-metric': metric },
      h('figcaption', {}, h('span', { class: 'chart-title' }, metric), actions),
      this.canvasHolder,
      this.legend,
    );
    this.resize = new ResizeObserver(() => {
      const width = this.width();
      if (this.plot && width > 0 && width !== this.plot.width) {
        this.plot.setSize({ width, height: CHART_HEIGHT });
      }
    });
    this.resize.observe(this.canvasHolder);
  }

  get isZoomed(): boolean {
    return this.zoomed;
  }

  private width(): number {
    return Math.max(200, Math.floor(this.canvasHolder.clientWidth || 480));
  }

  /** The runs to draw. uPlot itself is created on the first redraw (a chart with data). */
  setRuns(runs: ChartRun[]): void {
    this.runs = runs;
    if (this.plot) this.rebuild();
  }

  setOptions(options: ChartOptions): void {
    this.options = options;
    this.zoomed = false;
    if (this.plot) this.rebuild();
  }

  /** Live data arrived: redraw on the next frame, keeping the zoom. */
  scheduleRedraw(): void {
    if (this.frame !== 0) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.redraw();
    });
  }

  private alignedData(): uPlot.AlignedData {
    const { smoothing, logY } = this.options;
    const keep = (values: Array<number | null>) =>
      logY ? values.map((value) => (value !== null && value > 0 ? value : null)) : values;
    const tables: uPlot.AlignedData[] = this.runs.map((run) => {
      const { x, last, min, max } = run.data;
      return [
        x,
        keep(debiasedEma(last, smoothing)),
        keep(last),
        keep(min),
        keep(max),
      ] as unknown as uPlot.AlignedData;
    });
    if (tables.length === 0) return [[]];
    if (tables.length === 1) return tables[0]!;
    return uPlot.join(tables);
  }

  private redraw(): void {
    if (!this.plot) {
      this.rebuild();
      return;
    }
    this.applying = true;
    this.plot.setData(this.alignedData(), !this.zoomed);
    this.applying = false;
    this.element.dataset.points = String(this.pointCount());
    this.recordDraws();
  }

  private pointCount(): number {
    let total = 0;
    for (const run of this.runs) total += run.data.x.length;
    return total;
  }

  private recordDraws(): void {
    const at = Date.now();
    for (const run of this.runs) {
      const drawn = this.drawnSteps.get(run.id) ?? Number.NEGATIVE_INFINITY;
      const { steps } = run.data;
      // The newest steps only: a fetch brings thousands at once, live frames a few.
      const oldest = Math.max(0, steps.length - MAX_RECORDS_PER_DRAW);
      for (let index = steps.length - 1; index >= oldest && steps[index]! > drawn; index--) {
        drawRecords.push({ run: run.id, metric: this.metric, step: steps[index]!, at });
      }
      if (steps.length > 0) this.drawnSteps.set(run.id, steps[steps.length - 1]!);
    }
    if (drawRecords.length > MAX_DRAW_RECORDS) {
      drawRecords.splice(0, drawRecords.length - MAX_DRAW_RECORDS);
    }
  }

  private rebuild(): void {
    this.plot?.destroy();
    this.plot = undefined;
    const { axis, logY, smoothing } = this.options;
    const foreground = themeColor('--muted', '#666');
    const grid = themeColor('--grid', 'rgba(128,128,128,0.15)');
    const series: uPlot.Series[] = [{ label: axis }];
    const bands: uPlot.Band[] = [];
    this.runs.forEach((run, index) => {
      const base = 1 + index * SERIES_PER_RUN;
      series.push(
        { label: run.name, stroke: run.color, width: 1.5, show: smoothing > 0, spanGaps: true },
        {
          label: `${run.name} (raw)`,
          stroke: smoothing > 0 ? withAlpha(run.color, 0.25) : run.color,
          width: smoothing > 0 ? 1 : 1.5,
          spanGaps: true,
        },
        { label: `${run.name} min`, stroke: 'transparent', width: 0, spanGaps: true },
        { label: `${run.name} max`, stroke: 'transparent', width: 0, spanGaps: true },
      );
      bands.push({ series: [base + 3, base + 2], fill: withAlpha(run.color, 0.12) });
    });
    const markers = this.options.markers ?? [];
    const opts: uPlot.Options = {
      width: this.width(),
      height: CHART_HEIGHT,
      ms: 1,
      legend: { show: false },
      cursor: { drag: { x: true, y: false, setScale: true } },
      scales: { x: { time: axis === 'time' }, y: logY ? { distr: 3 } : {} },
      axes: [
        {
          stroke: foreground,
          grid: { stroke: grid },
          ticks: { stroke: grid },
          // Steps are whole numbers: no tick at step 0.5.
          ...(axis === 'step' && { incrs: STEP_INCREMENTS }),
          ...(axis === 'relative' && {
            values: (_u: uPlot, ticks: number[]) => ticks.map((tick) => `${tick / 1000}s`),
          }),
        },
        {
          stroke: foreground,
          grid: { stroke: grid },
          ticks: { stroke: grid },
          size: 56,
          values: (_u: uPlot, ticks: number[]) => ticks.map((tick) => formatValue(tick)),
        },
      ],
      series,
      bands,
      hooks: {
        setScale: [
          (u, key) => {
            if (key !== 'x' || this.applying) return;
            const { min, max } = u.scales.x ?? {};
            const xs = u.data[0];
            if (min === undefined || max === undefined || xs.length === 0) return;
            const full = min <= xs[0]! && max >= xs[xs.length - 1]!;
            this.zoomed = !full;
            this.options.onZoom(full ? undefined : { from: min, to: max });
          },
        ],
        setCursor: [(u) => this.showLegend(u)],
        draw: [
          (u) => {
            if (markers.length === 0) return;
            const context = u.ctx;
            context.save();
            context.strokeStyle = themeColor('--marker', '#c0392b');
            context.setLineDash([4, 4]);
            for (const marker of markers) {
              const position = u.valToPos(marker, 'x', true);
              if (position < u.bbox.left || position > u.bbox.left + u.bbox.width) continue;
              context.beginPath();
              context.moveTo(position, u.bbox.top);
              context.lineTo(position, u.bbox.top + u.bbox.height);
              context.stroke();
            }
            context.restore();
          },
        ],
      },
    };
    this.applying = true;
    this.plot = new uPlot(opts, this.alignedData(), this.canvasHolder);
    this.applying = false;
    this.element.dataset.points = String(this.pointCount());
    this.recordDraws();
  }

  private showLegend(u: uPlot): void {
    const index = u.cursor.idx;
    if (index === null || index === undefined) {
      this.legend.replaceChildren();
      return;
    }
    const x = u.data[0][index]!;
    const shownX =
      this.options.axis === 'time'
        ? new Date(x).toLocaleTimeString()
        : this.options.axis === 'relative'
          ? `${(x / 1000).toFixed(1)}s`
          : `step ${x}`;
    const items = this.runs.map((run, position) => {
      const base = 1 + position * SERIES_PER_RUN;
      const raw = u.data[base + 1]?.[index];
      const smoothed = u.data[base]?.[index];
      return h(
        'span',
        { class: 'legend-item' },
        h('i', { class: 'swatch', style: `background:${run.color}` }),
        `${run.name} ${formatValue(raw ?? null)}`,
        this.options.smoothing > 0 && smoothed != null ? ` (${formatValue(smoothed)})` : '',
      );
    });
    this.legend.replaceChildren(h('span', { class: 'legend-x' }, shownX), ...items);
  }

  /** What is drawn, per run: the steps and raw values (the page's test hook reads this). */
  snapshot(): {
    metric: string;
    zoomed: boolean;
    runs: Array<{ id: string; points: number; steps: number[]; values: Array<number | null> }>;
  } {
    return {
      metric: this.metric,
      zoomed: this.zoomed,
      runs: this.runs.map((run) => ({
        id: run.id,
        points: run.data.points,
        steps: [...run.data.steps],
        values: [...run.data.last],
      })),
    };
  }

  /** The chart as SVG, over the x range shown. */
  toSvg(): string {
    const data = this.alignedData();
    const xs = data[0] as ArrayLike<number>;
    const shown = this.plot?.scales.x;
    const range = {
      from: shown?.min ?? (xs.length > 0 ? xs[0]! : 0),
      to: shown?.max ?? (xs.length > 0 ? xs[xs.length - 1]! : 1),
    };
    const column = (index: number) => data[index] as ArrayLike<number | null>;
    return chartSvg(
      this.metric,
      this.runs.map((run, position) => {
        const base = 1 + position * SERIES_PER_RUN;
        return {
          name: run.name,
          color: run.color,
          x: xs,
          ...(this.options.smoothing > 0 && { smoothed: column(base) }),
          raw: column(base + 1),
          min: column(base + 2),
          max: column(base + 3),
        };
      }),
      range,
      this.options.logY,
    );
  }

  toPng(): string | undefined {
    return this.plot?.ctx.canvas.toDataURL('image/png');
  }

  /** The chart's data as CSV: x, then each run's raw, min and max values. */
  toCsv(): string {
    const data = this.alignedData();
    const header: string[] = [this.options.axis];
    for (const run of this.runs) header.push(run.name, `${run.name} min`, `${run.name} max`);
    const lines = [header.map((cell) => JSON.stringify(cell)).join(',')];
    const xs = data[0] as ArrayLike<number>;
    for (let index = 0; index < xs.length; index++) {
      const row: string[] = [String(xs[index])];
      this.runs.forEach((_run, position) => {
        const base = 1 + position * SERIES_PER_RUN;
        for (const offset of [1, 2, 3]) {
          const value = (data[base + offset] as ArrayLike<number | null>)[index];
          row.push(value === null || value === undefined ? '' : String(value));
        }
      });
      lines.push(row.join(','));
    }
    return `${lines.join('\n')}\n`;
  }

  destroy(): void {
    cancelAnimationFrame(this.frame);
    this.resize.disconnect();
    this.plot?.destroy();
    this.plot = undefined;
  }
}
