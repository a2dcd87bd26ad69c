import { describe, expect, it } from 'vitest';
import { watchForAbortedFit } from './fit-abort-watch.js';

describe('watchForAbortedFit', () => {
  it('reports a fit that clears isTraining before the watch was stopped, once, and restores the property', () => {
    const model = { isTraining: true };
    let aborted = 0;
    watchForAbortedFit(model, () => aborted++);
    expect(model.isTraining).toBe(true);
    model.isTraining = false;
    model.isTraining = false;
    expect(aborted).toBe(1);
    expect(Object.getOwnPropertyDescriptor(model, 'isTraining')).toEqual({
      value: false,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  });

  it('stays silent when the fit ended normally (stopped first)', () => {
    const model = { isTraining: true };
    let aborted = 0;
    const stop = watchForAbortedFit(model, () => aborted++);
    stop();
    model.isTraining = false;
    expect(aborted).toBe(0);
  });

  it('does nothing for a model without the property', () => {
    const model = {};
    watchForAbortedFit(model, () => {
      throw new Error('never');
    })();
    expect(Object.keys(model)).toEqual([]);
  });
});
