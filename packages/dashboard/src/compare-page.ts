/**
 * Comparing the selected runs: the params that differ first (then the ones they share), the
 * metrics side by side (latest, min, max of each), and every metric's chart with the runs
 * overlaid.
 */
import { ApiError, apiGet, query, wireNumber } from './api-client.js';
import type { BatchFrame, RunItem, RunState, SeriesSummary } from './api-types.js';
import { chartControls } from './chart-controls.js';
import { ChartsView } from './charts-view.js';
import { formatValue, h } from './dom.js';
import { runColor } from './palette.js';
import { parallelCoordinates } from './parallel-coordinates.js';
import type { PageContext } from './runs-page.js';
import { statusBadge } from './runs-table.js';
import type { ViewState } from './view-state.js';

/** Param axes of the parallel coordinates at most (more are unreadable at 1280 px). */
const MAX_PARALLEL_PARAMS = 8;
/** The compare endpoints take this many runs at most. */
const MAX_COMPARED = 100;

interface ParamRow {
  key: string;
  values: unknown[];
  differs: boolean;
}

const shown = (value: unknown) =>
  value === null || value === undefined
    ? '—'
    : typeof value === 'number'
      ? formatValue(value)
      : typeof value === 'string'
        ? value
        : JSON.stringify(value);

export class ComparePage {
  readonly element = h('section', { class: 'compare-page' });
  readonly charts: ChartsView;

  constructor(private readonly context: PageContext) {
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
    const ids = this.context.view.selected.slice(0, MAX_COMPARED);
    const back = h('a', { href: '#' }, '← all runs');
    back.addEventListener('click', (event) => {
      event.preventDefault();
      this.context.update({ page: 'runs' });
    });
    if (ids.length === 0) {
      this.element.replaceChildren(
        back,
        h('p', { class: 'note' }, 'Select runs in the table to compare them.'),
      );
      return;
    }
    try {
      const [diff, runs] = await Promise.all([
        apiGet<{ runs: Array<{ id: string; name: string }>; params: ParamRow[] }>(
          `/api/v1/compare/params${query({ runs: ids.join(','), all: 'true' })}`,
        ),
        Promise.all(
          ids.map((id) =>
            apiGet<{ run: RunItem }>(`/api/v1/runs/${id}`).then((answer) => answer.run),
          ),
        ),
      ]);
      const params = [...diff.params].sort(
        (a, b) => Number(b.differs) - Number(a.differs) || a.key.localeCompare(b.key),
      );
      const metricNames = [
        ...new Set(
          runs.flatMap((run) => ((run.metrics ?? []) as SeriesSummary[]).map((item) => item.name)),
        ),
      ].sort();
      const summary = (run: RunItem, name: string) =>
        ((run.metrics ?? []) as SeriesSummary[]).find((item) => item.name === name);
      const head = h(
        'tr',
        {},
        h('th', { scope: 'col' }, ''),
        ...runs.map((run) => h('th', { scope: 'col' }, run.name, ' ', statusBadge(run.state))),
      );
      this.element.replaceChildren(
        back,
        h('h1', {}, `Comparing ${runs.length} runs`),
        h(
          'section',
          { class: 'card', 'data-section': 'params diff' },
          h('h2', {}, 'Params (differing first)'),
          h(
            'table',
            { class: 'data-table params-diff' },
            head,
            ...params.map((row) =>
              h(
                'tr',
                { class: row.differs ? 'differs' : 'same', 'data-key': row.key },
                h('th', { scope: 'row' }, row.key),
                ...row.values.map((value) => h('td', {}, shown(value))),
              ),
            ),
          ),
        ),
        h(
          'section',
          { class: 'card', 'data-section': 'metrics side by side' },
          h('h2', {}, 'Metrics (latest · min · max)'),
          h(
            'table',
            { class: 'data-table' },
            head.cloneNode(true),
            ...metricNames.map((name) =>
              h(
                'tr',
                {},
                h('th', { scope: 'row' }, name),
                ...runs.map((run) => {
                  const item = summary(run, name);
                  if (!item) return h('td', {}, '—');
                  const cell = (value: unknown) =>
                    value === undefined ? '' : formatValue(wireNumber(value));
                  return h(
                    'td',
                    {},
                    `${cell(item.latest.value)} · ${cell(item.min)} · ${cell(item.max)}`,
                  );
                }),
              ),
            ),
          ),
        ),
        this.parallelSection(runs, params, metricNames),
        chartControls(this.context.view, this.context.update),
        this.charts.element,
      );
      void this.charts.setRuns(runs);
    } catch (error) {
      this.element.replaceChildren(
        back,
        h(
          'p',
          { class: 'error', role: 'alert' },
          error instanceof ApiError ? error.message : String(error),
        ),
      );
    }
  }

  /** Parallel coordinates: the params that differ (at most 8 axes), then a chosen metric. */
  private parallelSection(runs: RunItem[], params: ParamRow[], metricNames: string[]): HTMLElement {
    const axesParams = params.filter((row) => row.differs).slice(0, MAX_PARALLEL_PARAMS);
    const select = h(
      'select',
      { name: 'parallel-metric', 'aria-label': 'Metric of the last axis' },
      ...metricNames.map((name) => h('option', { value: name }, name)),
    );
    const holder = h('div', { class: 'parallel-holder' });
    const draw = () => {
      const metric = select.value;
      const latest = (run: RunItem) => {
        const item = ((run.metrics ?? []) as SeriesSummary[]).find(
          (series) => series.name === metric,
        );
        return item === undefined ? undefined : wireNumber(item.latest.value);
      };
      holder.replaceChildren(
        parallelCoordinates(
          [...axesParams.map((row) => row.key), ...(metric ? [metric] : [])],
          runs.map((run, index) => ({
            name: run.name,
            color: runColor(index),
            values: [
              ...axesParams.map((row) => row.values[index]),
              ...(metric ? [latest(run)] : []),
            ],
          })),
        ),
      );
    };
    select.addEventListener('change', draw);
    draw();
    return h(
      'section',
      { class: 'card', 'data-section': 'parallel coordinates' },
      h('h2', {}, 'Parallel coordinates: params that differ, and ', select),
      holder,
    );
  }

  applyView(previous: ViewState, next: ViewState): void {
    if (previous.selected.join() !== next.selected.join()) {
      void this.load();
      return;
    }
    this.charts.setSettings({
      axis: next.x,
      logY: next.logY,
      smoothing: next.smoothing,
      metricSearch: next.metricSearch,
    });
  }

  applyFrame(frame: BatchFrame): void {
    this.charts.applyFrame(frame);
  }

  applyState(_id: string, _state: RunState): void {}

  reload(): void {
    void this.load();
  }

  destroy(): void {
    this.charts.destroy();
  }
}
