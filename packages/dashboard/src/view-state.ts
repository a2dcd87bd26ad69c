/**
 * The view, held in the URL's hash so it can be shared and survives a reload: which page, which
 * runs are selected, the table's filter, sort and columns, and the charts' metric search,
 * smoothing, x axis and log scale. Only what differs from the defaults is written.
 */
import type { XAxis } from './api-types.js';

export type Page = 'runs' | 'run' | 'compare';
export type Theme = 'light' | 'dark' | 'auto';

export interface ViewState {
  page: Page;
  /** The run a run page shows. */
  run?: string;
  /** Runs selected in the table (overlaid in the charts, compared). */
  selected: string[];
  /** Free text over name, experiment, tags and id prefix (the server's `q`). */
  text: string;
  /** A filter expression (the server's `filter`): `params.lr > 0.01 and eval/acc >= 0.9`. */
  filter: string;
  /** The server's `sort`: `-started`, `params.lr`, `max(eval/acc)`. */
  sort: string;
  /** Group the table's rows by `experiment` or `params.<path>` ('' for none). */
  group: string;
  /** Param columns of the table (`lr`, `optimizer.name`). */
  params: string[];
  /** Metric columns of the table: latest, min and max each. */
  metrics: string[];
  /** Metric search over the charts (a substring). */
  metricSearch: string;
  /** Debiased EMA weight, 0 (off) to 0.99. */
  smoothing: number;
  x: XAxis;
  logY: boolean;
  theme: Theme;
}

export const DEFAULT_VIEW: ViewState = {
  page: 'runs',
  selected: [],
  text: '',
  filter: '',
  sort: '',
  group: '',
  params: [],
  metrics: [],
  metricSearch: '',
  smoothing: 0.6,
  x: 'step',
  logY: false,
  theme: 'auto',
};

const list = (value: string | null) =>
  value === null || value === '' ? [] : value.split(',').filter((item) => item !== '');

export function parseView(hash: string): ViewState {
  const search = new URLSearchParams(hash.replace(/^#/, ''));
  const page = search.get('page');
  const x = search.get('x');
  const theme = search.get('theme');
  const smoothing = Number(search.get('smooth'));
  const view: ViewState = {
    page: page === 'run' || page === 'compare' ? page : 'runs',
    selected: list(search.get('runs')),
    text: search.get('q') ?? '',
    filter: search.get('filter') ?? '',
    sort: search.get('sort') ?? '',
    group: search.get('group') ?? '',
    params: list(search.get('params')),
    metrics: list(search.get('metrics')),
    metricSearch: search.get('search') ?? '',
    smoothing:
      search.has('smooth') && Number.isFinite(smoothing)
        ? Math.min(Math.max(smoothing, 0), 0.99)
        : DEFAULT_VIEW.smoothing,
    x: x === 'time' || x === 'relative' ? x : 'step',
    logY: search.get('log') === '1',
    theme: theme === 'light' || theme === 'dark' ? theme : 'auto',
  };
  const run = search.get('run');
  if (run) view.run = run;
  return view;
}

export function serializeView(view: ViewState): string {
  const search = new URLSearchParams();
  if (view.page !== 'runs') search.set('page', view.page);
  if (view.run !== undefined) search.set('run', view.run);
  if (view.selected.length > 0) search.set('runs', view.selected.join(','));
  if (view.text !== '') search.set('q', view.text);
  if (view.filter !== '') search.set('filter', view.filter);
  if (view.sort !== '') search.set('sort', view.sort);
  if (view.group !== '') search.set('group', view.group);
  if (view.params.length > 0) search.set('params', view.params.join(','));
  if (view.metrics.length > 0) search.set('metrics', view.metrics.join(','));
  if (view.metricSearch !== '') search.set('search', view.metricSearch);
  if (view.smoothing !== DEFAULT_VIEW.smoothing) search.set('smooth', String(view.smoothing));
  if (view.x !== 'step') search.set('x', view.x);
  if (view.logY) search.set('log', '1');
  if (view.theme !== 'auto') search.set('theme', view.theme);
  const text = search.toString();
  return text === '' ? '' : `#${text}`;
}
