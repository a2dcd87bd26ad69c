import { describe, expect, it } from 'vitest';
import { describeSessionOptions } from './session-options.js';

describe('describeSessionOptions', () => {
  it('records providers by name (cpu when none) and the plain options that were set', () => {
    expect(describeSessionOptions(undefined)).toEqual({ executionProviders: ['cpu'] });
    expect(
      describeSessionOptions({
        executionProviders: ['cuda', { name: 'cpu', useArena: true }],
        intraOpNumThreads: 2,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'extended',
        executionMode: 'parallel',
        freeDimensionOverrides: { batch: 8 },
        logId: 'not recorded',
      }),
    ).toEqual({
      executionProviders: ['cuda', 'cpu'],
      intraOpNumThreads: 2,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'extended',
      executionMode: 'parallel',
      freeDimensionOverrides: { batch: 8 },
    });
  });
});
