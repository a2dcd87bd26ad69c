/**
 * One run: its state, params (nested), summary, metric summaries, git and machine, its charts
 * (annotations as markers), plots drawn from their data, images with a step slider,
 * annotations, artifacts. Follows the live stream; new plots, images and annotations are read
 * again when the stream says the run logged some.
 */
import { ApiError, apiGet, query, wireNumber } from './api-client.js';
import type {
  AnnotationRecord,
  ArtifactRecord,
  BatchFrame,
  ImageRecord,
  PlotRecord,
  RunItem,
  RunState,
  SeriesSummary,
} from './api-types.js';
import { chartControls } from './chart-controls.js';
import { ChartsView } from './charts-view.js';
import { formatTime, formatValue, h } from './dom.js';
import { plotView } from './plot-views.js';
import type { PageContext } from './runs-page.js';
import { statusBadge } from './runs-table.js';
import type { ViewState } from './view-state.js';

/** Plots, images and annotations are read again at most this often while a run logs them. */
const EXTRAS_DEBOUNCE_MS = 1_000;

/** A nested object as nested lists (params, summary, machine). */
export function nestedView(value: unknown): Node {
  if (typeof value !== 'object' || value === null) {
    return document.createTextNode(
      typeof value === 'number' ? formatValue(value) : JSON.stringify(value),
    );
  }
  if (Array.isArray(value) && value.every((item) => typeof item !== 'object' || item === null)) {
    return document.createTextNode(JSON.stringify(value));
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return h('span', { class: 'note' }, 'none');
  return h(
    'ul',
    { class: 'tree' },
    ...entries.map(([key, item]) =>
      h('li', {}, h('span', { class: 'key' }, key), ' ', nestedView(item)),
    ),
  );
}

function section(title: string, ...children: Array<Node | null>): HTMLElement {
  return h(
    'section',
    { class: 'card', 'data-section': title.toLowerCase() },
    h('h2', {}, title),
    ...children,
  );
}

function imagesView(runId: string, images: ImageRecord[]): HTMLElement {
  const byName = new Map<string, ImageRecord[]>();
  for (const image of images) byName.set(image.name, [...(byName.get(image.name) ?? []), image]);
  return h(
    'div',
    { class: 'images' },
    ...[...byName].map(([name, list]) => {
      list.sort((a, b) => a.step - b.step);
      const source = (image: ImageRecord) =>
        `/api/v1/runs/${runId}/images/content${query({ name, step: image.step })}`;
      const picture = h('img', {
        src: source(list[list.length - 1]!),
        alt: `${name} at step ${list[list.length - 1]!.step}`,
      });
      const label = h('output', {}, `step ${list[list.length - 1]!.step}`);
      const slider = h('input', {
        type: 'range',
        min: 0,
        max: list.length - 1,
        value: list.length - 1,
        'aria-label': `${name}: step`,
      });
      slider.addEventListener('input', () => {
        const image = list[Number(slider.value)]!;
        picture.src = source(image);
        picture.alt = `${name} at step ${image.step}`;
        label.textContent = `step ${image.step}`;
      });
      return h(
        'figure',
        { class: 'image', 'data-image': name },
        h('figcaption', {}, name),
        picture,
        list.length > 1 ? slider : null,
        label,
      );
    }),
  );
}

export class RunPage {
  readonly element = h('section', { class: 'run-page' });
  readonly charts: ChartsView;
  private run: RunItem | undefined;
  private readonly badge = h('span', {});
  private readonly extras = h('div', { class: 'extras' });
  private extrasTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly context: PageContext,
    private readonly runId: string,
  ) {
    const view = context.view;
    this.charts = new ChartsView({
      axis: view.x,
      logY: view.logY,
      smoothing: view.smoothing,
      metricSearch: view.metricSearch,
    });
    void this.load();
  }

  private async load(): Promise<void> {
    try {
      const { run } = await apiGet<{ run: RunItem }>(`/api/v1/runs/${this.runId}`);
      this.run = run;
      this.render(run);
      await this.loadExtras();
      void this.charts.setRuns([run]);
    } catch (error) {
      this.element.replaceChildren(
        h(
          'p',
          { class: 'error', role: 'alert' },
          error instanceof ApiError ? error.message : String(error),
        ),
      );
    }
  }

  private render(run: RunItem): void {
    this.badge.replaceChildren(statusBadge(run.state));
    const series = (run.metrics ?? []) as SeriesSummary[];
    const back = h('a', { href: '#' }, '← all runs');
    back.addEventListener('click', (event) => {
      event.preventDefault();
      this.context.update({ page: 'runs' });
    });
    this.element.replaceChildren(
      back,
      h('h1', {}, run.name, ' ', this.badge),
      h(
        'p',
        { class: 'note' },
        `experiment ${run.experiment} · id ${run.id} · started ${formatTime(run.startedAt ?? run.createdAt)}`,
      ),
      run.error
        ? h(
            'pre',
            { class: 'error', role: 'alert' },
            `${run.error.name ?? 'Error'}: ${run.error.message}`,
          )
        : '',
      h(
        'div',
        { class: 'cards' },
        section('Params', nestedView(run.params)),
        section('Summary', nestedView(run.summary ?? {})),
        section(
          'Git and machine',
          nestedView({ git: run.git ?? {}, machine: run.machine ?? {}, tags: run.tags }),
        ),
      ),
      section(
        'Metrics',
        h(
          'table',
          { class: 'data-table' },
          h(
            'tr',
            {},
            ...['name', 'latest', 'step', 'min', 'max', 'count'].map((label) =>
              h('th', { scope: 'col' }, label),
            ),
          ),
          ...series.map((item) =>
            h(
              'tr',
              {},
              h('td', {}, item.name),
              h('td', {}, formatValue(wireNumber(item.latest.value))),
              h('td', {}, String(item.latest.step)),
              h('td', {}, item.min === undefined ? '' : formatValue(wireNumber(item.min))),
              h('td', {}, item.max === undefined ? '' : formatValue(wireNumber(item.max))),
              h('td', {}, String(item.count)),
            ),
          ),
        ),
      ),
      chartControls(this.context.view, this.context.update),
      this.charts.element,
      this.extras,
    );
  }

  private async loadExtras(): Promise<void> {
    const base = `/api/v1/runs/${this.runId}`;
    const [plots, images, annotations, artifacts] = await Promise.all([
      apiGet<{ plots: PlotRecord[] }>(`${base}/plots`),
      apiGet<{ images: ImageRecord[] }>(`${base}/images`),
      apiGet<{ annotations: AnnotationRecord[] }>(`${base}/annotations`),
      apiGet<{ artifacts: ArtifactRecord[] }>(`${base}/artifacts`),
    ]);
    const latestPlots = new Map<string, PlotRecord>();
    for (const plot of plots.plots) {
      const known = latestPlots.get(plot.name);
      if (!known || (plot.step ?? 0) >= (known.step ?? 0)) latestPlots.set(plot.name, plot);
    }
    const markers = annotations.annotations.flatMap((item) =>
      item.step === undefined ? [] : [item.step],
    );
    if (this.context.view.x === 'step')
      this.charts.setSettings({ ...this.chartSettings(), markers });
    this.extras.replaceChildren(
      latestPlots.size > 0
        ? section('Plots', h('div', { class: 'plots' }, ...[...latestPlots.values()].map(plotView)))
        : '',
      images.images.length > 0 ? section('Images', imagesView(this.runId, images.images)) : '',
      section(
        'Annotations',
        annotations.annotations.length === 0
          ? h('p', { class: 'note' }, 'none')
          : h(
              'ul',
              { class: 'annotations' },
              ...annotations.annotations.map((item) =>
                h(
                  'li',
                  { class: `level-${item.level}` },
                  `${formatTime(item.ts)}${item.step === undefined ? '' : ` · step ${item.step}`} · ${item.level}: ${item.text}`,
                ),
              ),
            ),
      ),
      section(
        'Artifacts',
        artifacts.artifacts.length === 0
          ? h('p', { class: 'note' }, 'none')
          : h(
              'table',
              { class: 'data-table' },
              h(
                'tr',
                {},
                ...['name', 'type', 'path', 'size', 'sha256'].map((label) =>
                  h('th', { scope: 'col' }, label),
                ),
              ),
              ...artifacts.artifacts.map((item) =>
                h(
                  'tr',
                  {},
                  h('td', {}, item.name),
                  h('td', {}, item.type),
                  h('td', {}, item.path),
                  h('td', {}, `${item.size} B`),
                  h('td', { class: 'mono' }, item.sha256),
                ),
              ),
            ),
      ),
    );
  }

  private chartSettings() {
    const view = this.context.view;
    return {
      axis: view.x,
      logY: view.logY,
      smoothing: view.smoothing,
      metricSearch: view.metricSearch,
    };
  }

  applyView(_previous: ViewState, _next: ViewState): void {
    this.charts.setSettings(this.chartSettings());
  }

  applyFrame(frame: BatchFrame): void {
    if (frame.run.id !== this.runId) return;
    this.charts.applyFrame(frame);
    if (this.run && this.run.state !== frame.state) {
      this.run.state = frame.state;
      this.badge.replaceChildren(statusBadge(frame.state));
      if (frame.state === 'failed' || frame.state === 'completed') void this.load();
    }
    const kinds = frame.events ?? {};
    if (
      (kinds.plot || kinds.image || kinds.annotation || kinds.artifact) &&
      this.extrasTimer === undefined
    ) {
      this.extrasTimer = setTimeout(() => {
        this.extrasTimer = undefined;
        void this.loadExtras().catch(() => {});
      }, EXTRAS_DEBOUNCE_MS);
    }
  }

  applyState(id: string, state: RunState): void {
    if (id !== this.runId || !this.run) return;
    this.run.state = state;
    this.badge.replaceChildren(statusBadge(state));
  }

  reload(): void {
    void this.load();
  }

  destroy(): void {
    clearTimeout(this.extrasTimer);
    this.charts.destroy();
  }
}
