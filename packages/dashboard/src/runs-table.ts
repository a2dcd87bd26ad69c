/**
 * The runs table: every run the server's filter selects (up to 10,000, one request), with only
 * the rows in view in the DOM (fixed-height rows, positioned in a tall spacer), so scrolling
 * 10,000 runs costs what scrolling 30 does. Status, durations and metric columns follow the live
 * stream; sorting and filtering are the server's (`sort`, `q`, `filter`).
 */
import { wireNumber } from './api-client.js';
import type { BatchFrame, RunItem, RunState, SeriesSummary } from './api-types.js';
import { formatDuration, formatTime, formatValue, h } from './dom.js';
import { groupRuns, isGroupHeader, type TableRow } from './run-groups.js';

export const ROW_HEIGHT = 30;
/** Rows rendered above and below the visible ones, so a fast scroll shows no blank rows. */
const OVERSCAN = 8;

interface Column {
  key: string;
  label: string;
  /** The server's sort field for this column, when it can sort by it. */
  sort?: string;
  width: string;
  cell(run: RunItem): Node | string;
}

export interface RunsTableOptions {
  selected: Set<string>;
  params: string[];
  metrics: string[];
  sort: string;
  /** Group rows by `experiment` or `params.<path>` ('' for none). */
  group: string;
  onSelect(selected: Set<string>): void;
  onSort(sort: string): void;
  onOpen(id: string): void;
}

function paramValue(params: Record<string, unknown>, path: string): unknown {
  let value: unknown = params;
  for (const key of path.split('.')) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function shownParam(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'number') return formatValue(value);
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

function summaries(run: RunItem): Record<string, SeriesSummary> {
  return (run.metrics ?? {}) as Record<string, SeriesSummary>;
}

export function statusBadge(state: RunState): HTMLElement {
  return h('span', { class: `status status-${state}`, 'data-status': state }, state);
}

export class RunsTable {
  readonly element: HTMLElement;
  private readonly header: HTMLElement;
  private readonly viewport: HTMLElement;
  private readonly spacer: HTMLElement;
  private runs: RunItem[] = [];
  private rows: TableRow[] = [];
  private readonly index = new Map<string, number>();
  private columns: Column[] = [];
  private frame = 0;

  constructor(private options: RunsTableOptions) {
    this.header = h('div', { class: 'runs-row runs-header', role: 'row' });
    this.spacer = h('div', { class: 'runs-spacer' });
    this.viewport = h(
      'div',
      { class: 'runs-viewport', role: 'rowgroup', tabindex: 0 },
      this.spacer,
    );
    this.viewport.addEventListener('scroll', () => this.schedule());
    this.element = h('div', { class: 'runs-table', role: 'grid' }, this.header, this.viewport);
    this.setOptions(options);
    // Durations of running runs tick.
    setInterval(() => {
      if (this.runs.some((run) => run.state === 'running' || run.state === 'stale'))
        this.schedule();
    }, 1000);
  }

  setOptions(options: RunsTableOptions): void {
    const regroup = this.options.group !== options.group;
    this.options = options;
    if (regroup) this.layRows();
    this.columns = this.buildColumns();
    const template = this.columns.map((column) => column.width).join(' ');
    this.element.style.setProperty('--columns', template);
    this.header.replaceChildren(
      ...this.columns.map((column) => {
        if (column.sort === undefined) return h('span', { role: 'columnheader' }, column.label);
        const current = options.sort.replace(/^-/, '') === column.sort;
        const descending = options.sort.startsWith('-');
        const arrow = current ? (descending ? ' ↓' : ' ↑') : '';
        return h(
          'button',
          {
            type: 'button',
            role: 'columnheader',
            class: 'sort',
            'data-sort': column.sort,
            'aria-sort': current ? (descending ? 'descending' : 'ascending') : 'none',
            onclick: () =>
              options.onSort(current && !descending ? `-${column.sort}` : column.sort!),
          },
          column.label + arrow,
        );
      }),
    );
    this.schedule();
  }

  setRuns(runs: RunItem[]): void {
    this.runs = runs;
    this.index.clear();
    runs.forEach((run, position) => {
      this.index.set(run.id, position);
    });
    this.layRows();
  }

  private layRows(): void {
    const { runs } = this;
    this.rows = groupRuns(runs, this.options.group);
    this.spacer.style.height = `${this.rows.length * ROW_HEIGHT}px`;
    // A few runs take a few rows; many scroll inside at most 40% of the window.
    this.viewport.style.height = `min(40vh, ${Math.max(3, this.rows.length + 1) * ROW_HEIGHT}px)`;
    this.element.dataset.rows = String(runs.length);
    this.schedule();
  }

  get shownRuns(): readonly RunItem[] {
    return this.runs;
  }

  has(id: string): boolean {
    return this.index.has(id);
  }

  /** A live frame: the run's state, and its metric columns' latest, min and max. */
  applyFrame(frame: BatchFrame): void {
    const position = this.index.get(frame.run.id);
    if (position === undefined) return;
    const run = this.runs[position]!;
    run.state = frame.state;
    run.lastEventAt = Date.now();
    if (frame.state !== 'running' && frame.state !== 'stale' && run.endedAt === undefined) {
      run.endedAt = Date.now();
    }
    const known = summaries(run);
    for (const name of this.options.metrics) {
      const points = frame.points[name];
      if (!points || points.length === 0) continue;
      const summary = known[name];
      for (const [step, wire, ts] of points) {
        const value = wireNumber(wire);
        if (summary === undefined) {
          known[name] = {
            name,
            metric: name,
            count: 1,
            nanCount: 0,
            min: value,
            max: value,
            firstStep: step,
            lastStep: step,
            latest: { step, value, ts },
            lastLogged: { step, value, ts },
          };
          run.metrics = known;
          continue;
        }
        if (Number.isFinite(value)) {
          if (!(wireNumber(summary.min) <= value)) summary.min = value;
          if (!(wireNumber(summary.max) >= value)) summary.max = value;
        }
        if (step >= summary.latest.step) summary.latest = { step, value, ts };
      }
    }
    this.schedule();
  }

  applyState(id: string, state: RunState): void {
    const position = this.index.get(id);
    if (position === undefined) return;
    this.runs[position]!.state = state;
    this.schedule();
  }

  private buildColumns(): Column[] {
    const { selected } = this.options;
    const columns: Column[] = [
      {
        key: 'select',
        label: '',
        width: '32px',
        cell: (run) =>
          h('input', {
            type: 'checkbox',
            'aria-label': `select ${run.name}`,
            checked: selected.has(run.id),
            onchange: (event: Event) => {
              if ((event.target as HTMLInputElement).checked) selected.add(run.id);
              else selected.delete(run.id);
              this.options.onSelect(selected);
            },
          }),
      },
      {
        key: 'status',
        label: 'status',
        sort: 'status',
        width: '100px',
        cell: (run) => statusBadge(run.state),
      },
      {
        key: 'experiment',
        label: 'experiment',
        sort: 'experiment',
        width: 'minmax(90px,1fr)',
        cell: (run) => run.experiment,
      },
      {
        key: 'name',
        label: 'name',
        sort: 'name',
        width: 'minmax(120px,1.4fr)',
        cell: (run) =>
          h(
            'a',
            {
              href: `#page=run&run=${run.id}`,
              class: 'run-link',
              onclick: (event: Event) => {
                event.preventDefault();
                this.options.onOpen(run.id);
              },
            },
            run.name,
          ),
      },
      {
        key: 'git',
        label: 'git',
        width: 'minmax(90px,1fr)',
        cell: (run) =>
          run.git?.sha
            ? `${run.git.sha.slice(0, 7)}${run.git.branch ? ` ${run.git.branch}` : ''}${run.git.dirty ? '*' : ''}`
            : '',
      },
      {
        key: 'started',
        label: 'started',
        sort: 'started',
        width: '130px',
        cell: (run) => formatTime(run.startedAt ?? run.createdAt),
      },
      {
        key: 'duration',
        label: 'duration',
        width: '80px',
        cell: (run) => {
          const start = run.startedAt ?? run.createdAt;
          const end = run.state === 'running' ? Date.now() : (run.endedAt ?? run.lastEventAt);
          return formatDuration(end - start);
        },
      },
      {
        key: 'tags',
        label: 'tags',
        width: 'minmax(60px,0.8fr)',
        cell: (run) => run.tags.join(', '),
      },
    ];
    for (const path of this.options.params) {
      columns.push({
        key: `param:${path}`,
        label: path,
        sort: `params.${path}`,
        width: 'minmax(70px,0.8fr)',
        cell: (run) => shownParam(paramValue(run.params, path)),
      });
    }
    for (const name of this.options.metrics) {
      for (const aggregate of ['latest', 'min', 'max'] as const) {
        columns.push({
          key: `metric:${aggregate}:${name}`,
          label: aggregate === 'latest' ? name : `${aggregate}(${name})`,
          sort: aggregate === 'latest' ? `"${name}"` : `${aggregate}("${name}")`,
          width: 'minmax(70px,0.8fr)',
          cell: (run) => {
            const summary = summaries(run)[name];
            if (summary === undefined) return '';
            const value = aggregate === 'latest' ? summary.latest.value : summary[aggregate];
            return formatValue(value === undefined ? undefined : wireNumber(value));
          },
        });
      }
    }
    return columns;
  }

  private schedule(): void {
    if (this.frame !== 0) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.renderRows();
    });
  }

  private renderRows(): void {
    const top = this.viewport.scrollTop;
    const height = this.viewport.clientHeight || 400;
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(this.rows.length, Math.ceil((top + height) / ROW_HEIGHT) + OVERSCAN);
    const rows: HTMLElement[] = [];
    for (let position = first; position < last; position++) {
      const run = this.rows[position]!;
      if (isGroupHeader(run)) {
        rows.push(
          h(
            'div',
            {
              class: 'runs-row group-row',
              role: 'row',
              'data-group': run.group,
              style: `transform:translateY(${position * ROW_HEIGHT}px)`,
            },
            h('span', { role: 'gridcell' }, `${run.group} (${run.count})`),
          ),
        );
        continue;
      }
      rows.push(
        h(
          'div',
          {
            class: `runs-row${this.options.selected.has(run.id) ? ' selected' : ''}`,
            role: 'row',
            'data-run': run.id,
            style: `transform:translateY(${position * ROW_HEIGHT}px)`,
          },
          ...this.columns.map((column) =>
            h('span', { role: 'gridcell', 'data-column': column.key }, column.cell(run)),
          ),
        ),
      );
    }
    this.spacer.replaceChildren(...rows);
  }
}
