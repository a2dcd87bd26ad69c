/**
 * The runs table's columns: selection, status, experiment, name, git, start, duration, tags,
 * then the param columns and, per metric column, its latest, min and max. Each column says how
 * the server sorts by it.
 */
import { wireNumber } from './api-client.js';
import type { RunItem, RunState, SeriesSummary } from './api-types.js';
import { formatDuration, formatTime, formatValue, h } from './dom.js';

export interface Column {
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

export function summaries(run: RunItem): Record<string, SeriesSummary> {
  return (run.metrics ?? {}) as Record<string, SeriesSummary>;
}

export function statusBadge(state: RunState): HTMLElement {
  return h('span', { class: `status status-${state}`, 'data-status': state }, state);
}

export function buildColumns(options: RunsTableOptions): Column[] {
  const { selected } = options;
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
            options.onSelect(selected);
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
              options.onOpen(run.id);
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
  for (const path of options.params) {
    columns.push({
      key: `param:${path}`,
      label: path,
      sort: `params.${path}`,
      width: 'minmax(70px,0.8fr)',
      cell: (run) => shownParam(paramValue(run.params, path)),
    });
  }
  for (const name of options.metrics) {
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
