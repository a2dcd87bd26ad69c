/**
 * The charts of some runs: one per metric, grouped by the metric's prefix (`train/`, `eval/`,
 * `system/`), filtered by the metric search. A chart loads when it first scrolls into view (one
 * /compare request for all its runs), follows the live stream afterwards, and fetches finer
 * buckets for a zoomed range.
 */
import { apiGet, query } from './api-client.js';
import type { BatchFrame, Bucket, SeriesSummary, XAxis } from './api-types.js';
import { download, h } from './dom.js';
import { type ChartRun, MetricChart } from './metric-chart.js';
import { runColor } from './palette.js';
import { SeriesData } from './series-cache.js';

/**
 * Buckets per series at most (the compare endpoint's limit); two per pixel otherwise, so a
 * chart's line keeps the shape of what the buckets summarise (their min/max band shows the rest).
 */
const MAX_POINTS = 2_000;
/**
 * Buckets one chart asks for across its runs at most: 50 runs overlaid get 800 each (a pixel's
 * worth, with the min/max band), so the first chart of a big comparison is one quick request.
 */
const MAX_CHART_BUCKETS = 40_000;
const MIN_POINTS = 200;
/**
 * Charts loading at once: one. The server answers one request at a time anyway, so the chart on
 * top is drawn first instead of every visible chart sharing the wait.
 */
const MAX_LOADS_IN_FLIGHT = 1;
/**
 * A chart of this many runs or more loads in two steps: COARSE_POINTS buckets per run first (the
 * server reads its block summaries, not points), then the full resolution.
 */
const PROGRESSIVE_MIN_RUNS = 10;
const COARSE_POINTS = 100;
/** Live points appended beyond this many times the fetched buckets trigger a re-fetch. */
const REFETCH_FACTOR = 3;
/** The compare endpoint takes this many runs at most. */
const MAX_CHART_RUNS = 100;

export interface ChartsRun {
  id: string;
  name: string;
  startedAt?: number;
  createdAt: number;
}

export interface ChartsSettings {
  axis: XAxis;
  logY: boolean;
  smoothing: number;
  metricSearch: string;
  markers?: number[];
}

interface ChartEntry {
  chart: MetricChart;
  series: Map<string, SeriesData>;
  loaded: boolean;
  loading: boolean;
  zoom: { from: number; to: number } | undefined;
}

function prefixOf(metric: string): string {
  const slash = metric.indexOf('/');
  return slash === -1 ? 'other' : metric.slice(0, slash);
}

export class ChartsView {
  readonly element = h('div', { class: 'charts' });
  private runs: ChartsRun[] = [];
  private metrics = new Set<string>();
  private readonly entries = new Map<string, ChartEntry>();
  private readonly observer: IntersectionObserver;
  private generation = 0;
  private loadsInFlight = 0;
  private readonly waitingLoads: Array<() => void> = [];

  constructor(private settings: ChartsSettings) {
    this.observer = new IntersectionObserver((seen) => {
      for (const item of seen) {
        if (!item.isIntersecting) continue;
        const metric = (item.target as HTMLElement).dataset.metric;
        const entry = metric === undefined ? undefined : this.entries.get(metric);
        if (entry && !entry.loaded && !entry.loading) void this.load(metric!, entry);
      }
    });
  }

  /** Shows these runs' charts (at most 100 runs overlaid). */
  async setRuns(runs: ChartsRun[]): Promise<void> {
    const generation = ++this.generation;
    this.runs = runs.slice(0, MAX_CHART_RUNS);
    this.metrics = new Set();
    this.render(true);
    // Charts appear as soon as the first run's metric names arrive (most runs share them); the
    // names of the others are added as they come.
    await Promise.all(
      this.runs.map((run) =>
        apiGet<{ metrics: SeriesSummary[] }>(`/api/v1/runs/${run.id}/metrics`).then(
          (list) => {
            if (generation !== this.generation) return;
            const before = this.metrics.size;
            for (const series of list.metrics) this.metrics.add(series.name);
            if (this.metrics.size > before) this.render();
          },
          () => {},
        ),
      ),
    );
  }

  setSettings(settings: ChartsSettings): void {
    const previous = this.settings;
    this.settings = settings;
    if (previous.axis !== settings.axis || previous.metricSearch !== settings.metricSearch) {
      // Another axis needs other buckets: new charts. Another search keeps the loaded ones.
      this.render(previous.axis !== settings.axis);
      return;
    }
    // Smoothing and log scale redraw what is loaded, without fetching again.
    for (const [metric, entry] of this.entries) entry.chart.setOptions(this.chartOptions(metric));
  }

  private chartOptions(metric: string) {
    return {
      axis: this.settings.axis,
      logY: this.settings.logY,
      smoothing: this.settings.smoothing,
      ...(this.settings.markers && { markers: this.settings.markers }),
      onZoom: (range: { from: number; to: number } | undefined) => {
        const entry = this.entries.get(metric);
        if (!entry) return;
        entry.zoom = range;
        void this.load(metric, entry);
      },
    };
  }

  private dropChart(metric: string): void {
    const entry = this.entries.get(metric);
    if (!entry) return;
    this.observer.unobserve(entry.chart.element);
    entry.chart.destroy();
    this.entries.delete(metric);
  }

  /** Lays out the charts of the metrics shown; `fresh` drops every chart (and its data) first. */
  private render(fresh = false): void {
    const search = this.settings.metricSearch.toLowerCase();
    const shown = [...this.metrics].filter((name) => name.toLowerCase().includes(search)).sort();
    const kept = new Set(fresh ? [] : shown);
    for (const metric of [...this.entries.keys()]) if (!kept.has(metric)) this.dropChart(metric);
    const groups = new Map<string, string[]>();
    for (const name of shown)
      groups.set(prefixOf(name), [...(groups.get(prefixOf(name)) ?? []), name]);
    const sections = [...groups].map(([prefix, names]) => {
      const grid = h('div', { class: 'chart-grid' });
      for (const name of names) {
        grid.appendChild((this.entries.get(name) ?? this.createChart(name)).chart.element);
      }
      return h(
        'details',
        { class: 'chart-group', open: true },
        h('summary', {}, `${prefix}/ (${names.length})`),
        grid,
      );
    });
    if (sections.length === 0) {
      sections.push(
        h(
          'p',
          { class: 'empty' },
          this.runs.length === 0 ? 'Select runs to chart them.' : 'No metric matches.',
        ) as unknown as HTMLDetailsElement,
      );
    }
    this.element.replaceChildren(...sections);
  }

  private createChart(metric: string): ChartEntry {
    const png = h(
      'button',
      { type: 'button', class: 'small', title: 'Download the chart as PNG' },
      'PNG',
    );
    const csv = h(
      'button',
      { type: 'button', class: 'small', title: 'Download the chart data as CSV' },
      'CSV',
    );
    const svg = h(
      'button',
      { type: 'button', class: 'small', title: 'Download the chart as SVG' },
      'SVG',
    );
    const file = metric.replace(/[^A-Za-z0-9._-]+/g, '_');
    const chart = new MetricChart(
      metric,
      this.chartOptions(metric),
      h('span', { class: 'chart-actions' }, png, svg, csv),
    );
    svg.addEventListener('click', () =>
      download(`${file}.svg`, new Blob([chart.toSvg()], { type: 'image/svg+xml' })),
    );
    png.addEventListener('click', () => {
      const url = chart.toPng();
      if (url) download(`${file}.png`, url);
    });
    csv.addEventListener('click', () =>
      download(`${file}.csv`, new Blob([chart.toCsv()], { type: 'text/csv' })),
    );
    const series = new Map<string, SeriesData>();
    const runs: ChartRun[] = this.runs.map((run, index) => {
      const data = new SeriesData(
        run.id,
        metric,
        this.settings.axis,
        run.startedAt ?? run.createdAt,
      );
      series.set(run.id, data);
      return { id: run.id, name: run.name, color: runColor(index), data };
    });
    chart.setRuns(runs);
    const entry: ChartEntry = { chart, series, loaded: false, loading: false, zoom: undefined };
    this.entries.set(metric, entry);
    this.observer.observe(chart.element);
    return entry;
  }

  private points(entry: ChartEntry): number {
    const perRun = Math.floor(MAX_CHART_BUCKETS / Math.max(1, entry.series.size));
    const wanted = Math.min(2 * (entry.chart.element.clientWidth || 600), perRun);
    return Math.min(MAX_POINTS, Math.max(MIN_POINTS, wanted));
  }

  /** Waits for a turn to load (one chart at a time); returns the function that ends it. */
  private async turn(): Promise<() => void> {
    if (this.loadsInFlight >= MAX_LOADS_IN_FLIGHT) {
      await new Promise<void>((resolve) => this.waitingLoads.push(resolve));
    }
    this.loadsInFlight++;
    return () => {
      this.loadsInFlight--;
      this.waitingLoads.shift()?.();
    };
  }

  /** Fetches the chart's buckets (all runs in one request; per run when zoomed to a range). */
  private async load(metric: string, entry: ChartEntry): Promise<void> {
    entry.loading = true;
    for (const data of entry.series.values()) data.beginFetch();
    const done = await this.turn();
    const points = this.points(entry);
    const axis = this.settings.axis;
    try {
      if (entry.zoom === undefined) {
        const ids = [...entry.series.keys()];
        const compare = async (buckets: number) => {
          const answer = await apiGet<{
            runs: Array<{ id: string; metrics: Record<string, { buckets: Bucket[] }> }>;
          }>(
            `/api/v1/compare${query({ runs: ids.join(','), metrics: metric, points: buckets, x: axis })}`,
          );
          for (const run of answer.runs)
            entry.series.get(run.id)?.replace(run.metrics[metric]?.buckets ?? []);
        };
        if (!entry.loaded && ids.length >= PROGRESSIVE_MIN_RUNS && points > COARSE_POINTS) {
          // Many runs: a coarse view first (every point still in a bucket's min/max), drawn at
          // once, then the full resolution.
          await compare(COARSE_POINTS);
          entry.chart.scheduleRedraw();
          for (const data of entry.series.values()) data.beginFetch();
        }
        await compare(points);
      } else {
        const from = Math.floor(entry.zoom.from);
        const to = Math.ceil(entry.zoom.to);
        await Promise.all(
          [...entry.series.entries()].map(async ([id, data]) => {
            const view = await apiGet<{ buckets: Bucket[] }>(
              `/api/v1/runs/${id}/metrics/series${query({ name: metric, points, x: axis, from, to })}`,
            ).catch(() => undefined);
            // A run that failed to answer keeps what it showed.
            if (view !== undefined) data.replaceRange(view.buckets, from, to);
          }),
        );
      }
      entry.loaded = true;
    } catch {
      for (const data of entry.series.values()) data.abortFetch();
    } finally {
      for (const data of entry.series.values()) data.abortFetch();
      entry.loading = false;
      done();
    }
    if (this.entries.get(metric) === entry) entry.chart.scheduleRedraw();
  }

  /** A live frame: new points into the charts that show the run; new metrics get a chart. */
  applyFrame(frame: BatchFrame): void {
    if (!this.runs.some((run) => run.id === frame.run.id)) return;
    let newMetric = false;
    for (const [metric, points] of Object.entries(frame.points)) {
      if (!this.metrics.has(metric)) {
        this.metrics.add(metric);
        newMetric = true;
        continue;
      }
      const entry = this.entries.get(metric);
      const data = entry?.series.get(frame.run.id);
      if (!entry || !data) continue;
      if (data.appendLive(points) > 0 || entry.loading) {
        const tooMany = data.x.length > REFETCH_FACTOR * this.points(entry);
        if (tooMany && entry.zoom === undefined && !entry.loading) void this.load(metric, entry);
        else entry.chart.scheduleRedraw();
      }
    }
    if (newMetric) this.render();
  }

  /** The server could not resume the stream: reload every chart that was loaded. */
  reload(): void {
    for (const [metric, entry] of this.entries) if (entry.loaded) void this.load(metric, entry);
  }

  /** What each chart draws (the page's test hook). */
  snapshot(metric: string) {
    return this.entries.get(metric)?.chart.snapshot();
  }

  metricNames(): string[] {
    return [...this.entries.keys()];
  }

  destroy(): void {
    this.observer.disconnect();
    for (const entry of this.entries.values()) entry.chart.destroy();
    this.entries.clear();
  }
}
