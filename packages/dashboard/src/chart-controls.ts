/** The charts' controls: metric search, smoothing, x axis, log y. Each change goes to the URL. */
import { h } from './dom.js';
import type { ViewState } from './view-state.js';

export function chartControls(
  view: ViewState,
  update: (change: Partial<ViewState>, options?: { replace?: boolean }) => void,
): HTMLElement {
  const search = h('input', {
    type: 'search',
    name: 'metric-search',
    value: view.metricSearch,
    placeholder: 'Search metrics',
    'aria-label': 'Search metrics',
  });
  search.addEventListener('change', () =>
    update({ metricSearch: search.value.trim() }, { replace: true }),
  );
  const smoothing = h('input', {
    type: 'range',
    name: 'smoothing',
    min: 0,
    max: 0.99,
    step: 0.01,
    value: view.smoothing,
    'aria-label': 'Smoothing (debiased EMA weight)',
  });
  const shown = h('output', {}, view.smoothing.toFixed(2));
  smoothing.addEventListener('input', () => {
    shown.textContent = Number(smoothing.value).toFixed(2);
  });
  smoothing.addEventListener('change', () =>
    update({ smoothing: Number(smoothing.value) }, { replace: true }),
  );
  const axis = h(
    'select',
    { name: 'x-axis', 'aria-label': 'x axis' },
    ...(['step', 'time', 'relative'] as const).map((value) =>
      h(
        'option',
        { value, selected: view.x === value },
        value === 'relative' ? 'relative time' : value,
      ),
    ),
  );
  axis.addEventListener('change', () =>
    update({ x: axis.value as ViewState['x'] }, { replace: true }),
  );
  const logY = h('input', { type: 'checkbox', name: 'log-y', checked: view.logY });
  logY.addEventListener('change', () => update({ logY: logY.checked }, { replace: true }));
  return h(
    'div',
    { class: 'toolbar chart-controls' },
    search,
    h('label', {}, 'Smoothing ', smoothing, ' ', shown),
    h('label', {}, 'x ', axis),
    h('label', {}, logY, ' log y'),
  );
}
