import { describe, expect, it } from 'vitest';
import { toClassIndices, toNumbers } from './targets.js';

const where = 'batch 3';

describe('toClassIndices', () => {
  it('takes indices, bigints, labels, one-hot rows and tensors', () => {
    const options = { samples: 3, classes: 3, classLabels: ['a', 'b', 'c'], where };
    expect([...toClassIndices([2, 0, 1], options)]).toEqual([2, 0, 1]);
    expect([...toClassIndices(BigInt64Array.from([2n, 0n, 1n]), options)]).toEqual([2, 0, 1]);
    expect([...toClassIndices(['c', 'a', 'b'], options)]).toEqual([2, 0, 1]);
    expect([...toClassIndices([0, 0, 1, 1, 0, 0, 0, 1, 0], options)]).toEqual([2, 0, 1]);
    expect([...toClassIndices({ data: Int32Array.from([1, 1, 0]) }, options)]).toEqual([1, 1, 0]);
  });

  it('names the batch, the sample and the fix', () => {
    const options = { samples: 2, classes: 2, where };
    expect(() => toClassIndices([0, 2], options)).toThrow(
      'livestep: batch 3 target 1 is 2; class indices are integers from 0 to 1',
    );
    expect(() => toClassIndices([0.5, 1], options)).toThrow(/target 0 is 0.5/);
    expect(() => toClassIndices(['x', 'y'], options)).toThrow(
      /not in classLabels; pass class indices/,
    );
    expect(() => toClassIndices([1, 1, 0, 0], options)).toThrow(/row 0 is not one-hot/);
    expect(() => toClassIndices(7 as never, options)).toThrow(
      /must be an array, a typed array, an array of rows or a tensor/,
    );
  });
});

describe('targets as rows (JS arrays of arrays)', () => {
  it('one-hot targets as JS arrays of rows, as a [n, classes] tensor is taken', () => {
    const options = { samples: 3, classes: 3, where };
    const rows = [
      [0, 0, 1],
      [1, 0, 0],
      [0, 1, 0],
    ];
    expect([...toClassIndices(rows, options)]).toEqual([2, 0, 1]);
    expect([
      ...toClassIndices(
        rows.map((row) => Float32Array.from(row)),
        options,
      ),
    ]).toEqual([2, 0, 1]);
    // a column of class indices
    expect([...toClassIndices([[2], [0], [1]], options)]).toEqual([2, 0, 1]);
  });

  it('regression targets as rows, as custom metrics receive them', () => {
    expect([...toNumbers([[1], [1.2]], { samples: 2, width: 1, where })]).toEqual([1, 1.2]);
    expect([
      ...toNumbers(
        [
          [1, 2],
          [3, 4],
        ],
        { samples: 2, width: 2, where },
      ),
    ]).toEqual([1, 2, 3, 4]);
  });

  it('names a row of another length', () => {
    expect(() => toNumbers([[1, 2], [3]], { samples: 2, width: 2, where })).toThrow(
      'livestep: batch 3 target row 1 has 1 values, row 0 has 2; pass rows of the same length, or one value per sample',
    );
    expect(() => toClassIndices([[1, 0], 5] as never, { samples: 2, classes: 2, where })).toThrow(
      /target row 1 is number, row 0 has 2/,
    );
  });
});

describe('toNumbers', () => {
  it('takes numbers, typed arrays and tensors of samples x width values', () => {
    expect([...toNumbers([1, 2, 3, 4], { samples: 2, width: 2, where })]).toEqual([1, 2, 3, 4]);
    expect([
      ...toNumbers({ data: Float32Array.from([0.5]) }, { samples: 1, width: 1, where }),
    ]).toEqual([0.5]);
  });

  it('refuses a wrong count and non-numbers', () => {
    expect(() => toNumbers([1, 2, 3], { samples: 2, width: 2, where })).toThrow(
      /has 3 target values for 2 samples of 2 output value\(s\); pass 4/,
    );
    expect(() => toNumbers(['1'], { samples: 1, width: 1, where })).toThrow(
      /target value 0 is "1"; regression targets are finite numbers/,
    );
  });
});
