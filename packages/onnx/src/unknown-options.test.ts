import { describe, expect, it } from 'vitest';
import { closestOption, unknownOptionMessages } from './unknown-options.js';

describe('unknown options', () => {
  const known = ['classLabels', 'topK', 'task'];

  it('suggests the known option a misspelling is closest to', () => {
    expect(closestOption('classlabels', known)).toBe('classLabels');
    expect(closestOption('topk', known)).toBe('topK');
    expect(closestOption('tsak', known)).toBe('task');
    expect(closestOption('something', known)).toBeUndefined();
  });

  it('says nothing about known options', () => {
    expect(unknownOptionMessages({ task: 1, topK: 2 }, known, 'f()')).toEqual([]);
    expect(unknownOptionMessages({ top_k: 2 }, known, 'f()')).toEqual([
      'livestep: f() ignores the option "top_k", which it does not know; did you mean "topK"?',
    ]);
  });
});
