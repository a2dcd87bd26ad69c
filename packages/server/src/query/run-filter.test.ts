import { describe, expect, it } from 'vitest';
import { parseFilter, parseSort } from './run-filter.js';

describe('run filter language', () => {
  it('reads params, columns, summaries, quoted names and typed values', () => {
    expect(
      parseFilter(
        'params.optimizer.lr > 0.01 and max(eval/acc) >= 0.9 and "loss/class=setosa" < 1 and status = completed and params.tuned = true',
      ),
    ).toEqual([
      { field: { type: 'param', path: ['optimizer', 'lr'] }, operator: '>', value: 0.01 },
      { field: { type: 'metric', name: 'eval/acc', aggregate: 'max' }, operator: '>=', value: 0.9 },
      {
        field: { type: 'metric', name: 'loss/class=setosa', aggregate: 'latest' },
        operator: '<',
        value: 1,
      },
      { field: { type: 'column', column: 'status' }, operator: '=', value: 'completed' },
      { field: { type: 'param', path: ['tuned'] }, operator: '=', value: true },
    ]);
    expect(parseFilter('name != "a and b"')).toEqual([
      { field: { type: 'column', column: 'name' }, operator: '!=', value: 'a and b' },
    ]);
    expect(parseSort('-min(train/loss)')).toEqual({
      field: { type: 'metric', name: 'train/loss', aggregate: 'min' },
      descending: true,
    });
  });

  it('names what is wrong', () => {
    expect(() => parseFilter('params.lr')).toThrow(/has no comparison/);
    expect(() => parseFilter('params..lr > 1')).toThrow(/param path/);
    expect(() => parseFilter('../../x > 1')).toThrow(/is not a params.<path>/);
    expect(() => parseFilter(Array(21).fill('a > 1').join(' and '))).toThrow(/at most 20/);
  });
});
