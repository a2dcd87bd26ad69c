import { describe, expect, it } from 'vitest';
import { DEFAULT_VIEW, parseView, serializeView } from './view-state.js';

describe('the view in the URL', () => {
  it('round-trips every field, and the defaults write nothing', () => {
    expect(serializeView(DEFAULT_VIEW)).toBe('');
    const view = {
      ...DEFAULT_VIEW,
      page: 'compare' as const,
      selected: ['a', 'b'],
      text: 'iris',
      filter: 'params.lr > 0.01 and eval/acc >= 0.9',
      sort: '-max(eval/acc)',
      group: 'params.optimizer.lr',
      params: ['lr'],
      metrics: ['eval/acc'],
      metricSearch: 'train/',
      smoothing: 0.9,
      x: 'relative' as const,
      logY: true,
      theme: 'dark' as const,
    };
    expect(parseView(serializeView(view))).toEqual(view);
  });

  it('ignores what it does not know and clamps smoothing', () => {
    const view = parseView('#page=nope&x=sideways&smooth=7&theme=pink');
    expect(view.page).toBe('runs');
    expect(view.x).toBe('step');
    expect(view.smoothing).toBe(0.99);
    expect(view.theme).toBe('auto');
  });
});
