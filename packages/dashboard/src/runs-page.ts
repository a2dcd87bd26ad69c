/**
 * The runs page: the filter bar and the runs table on top, the charts of the selected runs (or
 * of the newest few when none is selected) below, both following the live stream.
 */
import { ApiError, apiGet, query } from './api-client.js';
import type { BatchFrame, RunItem, RunState } from './api-types.js';
import { chartControls } from './chart-controls.js';
import { ChartsView } from './charts-view.js';
import { h } from './dom.js';
import { RunsTable } from './runs-table.js';
import type { ViewState } from './view-state.js';

/** Runs a table reads in one request (the server's page limit). */
const TABLE_LIMIT = 10_000;
/** Charted when nothing is selected: the newest runs of the table. */
const DEFAULT_CHARTED = 5;
/** New runs seen on the stream are loaded in one table reload at most this often. */
const RELOAD_DEBOUNCE_MS = 500;

export interface PageContext {
  view: ViewState;
  update(change: Partial<ViewState>, options?: { replace?: boolean }): void;
}

const splitList = (text: string) =>
  text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');

export class RunsPage {
  readonly element: HTMLElement;
  readonly table: RunsTable;
  readonly charts: ChartsView;
  private readonly error = h('p', { class: 'error', role: 'alert' });
  private readonly chartedNote = h('p', { class: 'note' });
  private reloadTimer: ReturnType<typeof setTimeout> | undefined;
  private loading: AbortController | undefined;
  private chartedKey = '';

  constructor(private readonly context: PageContext) {
    const { view } = context;
    const input = (
      name: string,
      value: string,
      placeholder: string,
      apply: (text: string) => void,
    ) => {
      const field = h('input', {
        type: 'search',
        name,
        value,
        placeholder,
        'aria-label': placeholder,
      });
      field.addEventListener('change', () => apply(field.value.trim()));
      return field;
    };
    this.table = new RunsTable(this.tableOptions());
    const compare = h(
      'button',
      { type: 'button', class: 'primary', 'data-action': 'compare' },
      'Compare selected',
    );
    compare.addEventListener('click', () => {
      if (context.view.selected.length > 0) context.update({ page: 'compare' });
    });
    const clearSelection = h('button', { type: 'button' }, 'Clear selection');
    clearSelection.addEventListener('click', () => context.update({ selected: [] }));
    this.charts = new ChartsView({
      axis: view.x,
      logY: view.logY,
      smoothing: view.smoothing,
      metricSearch: view.metricSearch,
    });
    this.element = h(
      'section',
      { class: 'runs-page' },
      h(
        'div',
        { class: 'toolbar' },
        input('q', view.text, 'Search runs (name, experiment, tag, id)', (text) =>
          context.update({ text }),
        ),
        input('filter', view.filter, 'Filter: params.lr > 0.01 and eval/acc >= 0.9', (filter) =>
          context.update({ filter }),
        ),
        input('params', view.params.join(', '), 'Param columns: lr, optimizer.name', (text) =>
          context.update({ params: splitList(text) }),
        ),
        input('metrics', view.metrics.join(', '), 'Metric columns: eval/acc, train/loss', (text) =>
          context.update({ metrics: splitList(text) }),
        ),
        input('group', view.group, 'Group by: experiment or params.<path>', (group) =>
          context.update({ group }),
        ),
        compare,
        clearSelection,
      ),
      this.error,
      this.table.element,
      chartControls(view, context.update),
      this.chartedNote,
      this.charts.element,
    );
    void this.load();
  }

  /** Reads the table from the server with the view's selection, then charts. */
  async load(): Promise<void> {
    this.loading?.abort();
    const controller = new AbortController();
    this.loading = controller;
    const { view } = this.context;
    try {
      const answer = await apiGet<{ runs: RunItem[] }>(
        `/api/v1/runs${query({
          limit: TABLE_LIMIT,
          q: view.text,
          filter: view.filter,
          sort: view.sort,
          metrics: view.metrics.join(','),
        })}`,
        controller.signal,
      );
      this.error.textContent = '';
      this.table.setRuns(answer.runs);
      this.updateCharted();
    } catch (error) {
      if (controller.signal.aborted) return;
      this.error.textContent = error instanceof ApiError ? error.message : String(error);
    }
  }

  private updateCharted(): void {
    const { selected } = this.context.view;
    const runs = this.table.shownRuns;
    let charted: RunItem[];
    if (selected.length > 0) {
      const chosen = new Set(selected);
      charted = runs.filter((run) => chosen.has(run.id));
      this.chartedNote.textContent = `Charts of the ${charted.length} selected run(s).`;
    } else {
      charted = runs.slice(0, DEFAULT_CHARTED);
      this.chartedNote.textContent =
        runs.length === 0
          ? 'No runs yet: start one with LIVESTEP_URL set to this page’s address.'
          : `Charts of the ${charted.length} newest run(s); select runs to choose.`;
    }
    const key = charted.map((run) => run.id).join(',');
    if (key === this.chartedKey) return;
    this.chartedKey = key;
    void this.charts.setRuns(charted);
  }

  /** The view changed while this page is shown: redo only what depends on what changed. */
  applyView(previous: ViewState, next: ViewState): void {
    const changed = (keys: Array<keyof ViewState>) =>
      keys.some((key) => JSON.stringify(previous[key]) !== JSON.stringify(next[key]));
    if (changed(['params', 'metrics', 'sort', 'selected', 'group'])) {
      this.table.setOptions({ ...this.tableOptions(), selected: new Set(next.selected) });
    }
    if (changed(['text', 'filter', 'sort', 'metrics'])) void this.load();
    else if (changed(['selected'])) this.updateCharted();
    if (changed(['x', 'logY', 'smoothing', 'metricSearch'])) {
      this.charts.setSettings({
        axis: next.x,
        logY: next.logY,
        smoothing: next.smoothing,
        metricSearch: next.metricSearch,
      });
    }
  }

  private tableOptions() {
    const { view, update } = this.context;
    return {
      selected: new Set(view.selected),
      params: view.params,
      metrics: view.metrics,
      sort: view.sort,
      group: view.group,
      onSelect: (ids: Set<string>) => update({ selected: [...ids] }, { replace: true }),
      onSort: (sort: string) => update({ sort }),
      onOpen: (id: string) => update({ page: 'run', run: id }),
    };
  }

  applyFrame(frame: BatchFrame): void {
    if (!this.table.has(frame.run.id)) this.scheduleReload();
    this.table.applyFrame(frame);
    this.charts.applyFrame(frame);
  }

  applyState(id: string, state: RunState): void {
    this.table.applyState(id, state);
  }

  reload(): void {
    void this.load();
    this.charts.reload();
  }

  private scheduleReload(): void {
    if (this.reloadTimer !== undefined) return;
    this.reloadTimer = setTimeout(() => {
      this.reloadTimer = undefined;
      void this.load();
    }, RELOAD_DEBOUNCE_MS);
  }

  destroy(): void {
    clearTimeout(this.reloadTimer);
    this.loading?.abort();
    this.charts.destroy();
  }
}
