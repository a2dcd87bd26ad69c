/**
 * The dashboard's entry: the header (connection, theme, token), the page the URL names (runs,
 * one run, compare), and the live stream that feeds whichever page is shown. The view lives in
 * the URL's hash; back and forward move between views.
 */
import './styles.css';
import 'uplot/dist/uPlot.min.css';
import { startSession, whenUnauthorized } from './api-client.js';
import { ComparePage } from './compare-page.js';
import { h } from './dom.js';
import { openLiveStream } from './live-stream.js';
import { drawRecords } from './metric-chart.js';
import { RunPage } from './run-page.js';
import { RunsPage } from './runs-page.js';
import { parseView, serializeView, type Theme, type ViewState } from './view-state.js';

type AnyPage = RunsPage | RunPage | ComparePage;

const root = document.getElementById('app')!;
let view = parseView(location.hash);
let page: AnyPage | undefined;
const connection = h(
  'span',
  { class: 'connection', 'data-connected': 'false', role: 'status' },
  'connecting',
);
const main = h('main', { id: 'main' });

function applyTheme(theme: Theme): void {
  const dark =
    theme === 'dark' ||
    (theme === 'auto' && window.matchMedia?.('(prefers-color-scheme: dark)').matches);
  document.documentElement.dataset.theme = dark ? 'dark' : 'light';
}

function showPage(): void {
  page?.destroy();
  // The view is replaced on every change: pages read the current one through this getter.
  const context = {
    get view() {
      return view;
    },
    update,
  };
  page =
    view.page === 'run' && view.run !== undefined
      ? new RunPage(context, view.run)
      : view.page === 'compare'
        ? new ComparePage(context)
        : new RunsPage(context);
  main.replaceChildren(page.element);
  document.body.dataset.page = view.page;
}

function update(change: Partial<ViewState>, options: { replace?: boolean } = {}): void {
  const previous = view;
  view = { ...view, ...change };
  if (change.page === 'runs') delete view.run;
  const hash = serializeView(view) || '#';
  if (options.replace) history.replaceState(null, '', hash);
  else history.pushState(null, '', hash);
  transition(previous, view);
}

function transition(previous: ViewState, next: ViewState): void {
  if (previous.theme !== next.theme) {
    applyTheme(next.theme);
    showPage(); // charts take their colours from the theme
    return;
  }
  if (previous.page !== next.page || previous.run !== next.run || page === undefined) {
    showPage();
    return;
  }
  page.applyView(previous, next);
}

window.addEventListener('popstate', () => {
  const previous = view;
  view = parseView(location.hash);
  transition(previous, view);
});

const themeButton = h(
  'button',
  { type: 'button', class: 'theme', 'aria-label': 'Switch light or dark theme' },
  '◐',
);
themeButton.addEventListener('click', () => {
  const dark = document.documentElement.dataset.theme === 'dark';
  update({ theme: dark ? 'light' : 'dark' }, { replace: true });
});

const home = h('a', { href: '#', class: 'brand' }, 'livestep');
home.addEventListener('click', (event) => {
  event.preventDefault();
  update({ page: 'runs' });
});

/** The server has a token: ask for it once; the server keeps an HttpOnly session cookie. */
function askForToken(): void {
  if (document.querySelector('.login')) return;
  const field = h('input', {
    type: 'password',
    name: 'token',
    autocomplete: 'current-password',
    'aria-label': 'Server token',
  });
  const message = h('p', { class: 'error', role: 'alert' });
  const form = h(
    'form',
    { class: 'login' },
    h('h2', {}, 'This server needs its token'),
    h(
      'p',
      {},
      'The token given to livestep serve (--token or LIVESTEP_SERVER_TOKEN). It is sent once; the server answers with a session cookie this page cannot read.',
    ),
    field,
    h('button', { type: 'submit', class: 'primary' }, 'Open'),
    message,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    startSession(field.value).then(
      () => location.reload(),
      (error: Error) => {
        message.textContent = error.message;
      },
    );
  });
  main.replaceChildren(form);
  field.focus();
}
whenUnauthorized(askForToken);

root.replaceChildren(h('header', { class: 'top' }, home, connection, themeButton), main);
applyTheme(view.theme);
showPage();

const stream = openLiveStream({
  batch(frame) {
    page?.applyFrame(frame);
  },
  state(run, state) {
    page?.applyState(run.id, state);
  },
  reset() {
    page?.reload();
  },
  status(connected) {
    connection.dataset.connected = String(connected);
    connection.textContent = connected ? 'live' : 'reconnecting';
  },
});

/** For tests and the benchmarks: what the page draws, read from the page itself. */
(window as unknown as { livestep: unknown }).livestep = {
  view: () => view,
  charts: () => (page && 'charts' in page ? page.charts.metricNames() : []),
  chart: (metric: string) => (page && 'charts' in page ? page.charts.snapshot(metric) : undefined),
  runs: () =>
    page instanceof RunsPage
      ? page.table.shownRuns.map((run) => ({ id: run.id, name: run.name, state: run.state }))
      : [],
  drawRecords,
  frames: () => stream.frames,
};
