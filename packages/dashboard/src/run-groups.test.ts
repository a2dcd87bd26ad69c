import { describe, expect, it } from 'vitest';
import type { RunItem } from './api-types.js';
import { groupRuns } from './run-groups.js';

const run = (name: string, experiment: string, params: Record<string, unknown>): RunItem => ({
  id: name,
  name,
  experiment,
  params,
  state: 'completed',
  createdAt: 0,
  lastEventAt: 0,
  tags: [],
});

describe('groupRuns', () => {
  const runs = [
    run('a', 'iris', { optimizer: { lr: 0.1 } }),
    run('b', 'mnist', { optimizer: { lr: 0.01 } }),
    run('c', 'iris', { optimizer: { lr: 0.01 } }),
    run('d', 'mnist', {}),
  ];

  it('keeps the rows as they are without a key', () => {
    expect(groupRuns(runs, '')).toEqual(runs);
  });

  it('puts each group’s header before its runs, in the order of their first run', () => {
    const rows = groupRuns(runs, 'experiment');
    expect(rows.map((row) => ('group' in row ? `${row.group} (${row.count})` : row.name))).toEqual([
      'experiment = iris (2)',
      'a',
      'c',
      'experiment = mnist (2)',
      'b',
      'd',
    ]);
  });

  it('groups by a nested param, runs without it together', () => {
    const rows = groupRuns(runs, 'params.optimizer.lr');
    expect(rows.map((row) => ('group' in row ? row.group : row.name))).toEqual([
      'optimizer.lr = 0.1',
      'a',
      'optimizer.lr = 0.01',
      'b',
      'c',
      'optimizer.lr = (none)',
      'd',
    ]);
  });
});
