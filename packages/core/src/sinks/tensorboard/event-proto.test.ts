/** The scalar fast path gives the very bytes of the general encoder. */
import { describe, expect, it } from 'vitest';
import { encodeScalarEvent, encodeSummaryEvent, encodeTag } from './event-proto.js';

describe('encodeScalarEvent', () => {
  it.each([
    ['loss', 0, 0.5],
    ['loss', 1, Number.NaN],
    ['batch/loss', 127, Number.POSITIVE_INFINITY],
    ['accuracy', 128, Number.NEGATIVE_INFINITY],
    ['x'.repeat(200), 2 ** 40, -0.25],
    ['précision/clé=é', Number.MAX_SAFE_INTEGER, 1e39],
  ])('tag %s, step %d, value %d', (tag, step, value) => {
    const wallTime = 1_700_000_000.123;
    expect(encodeScalarEvent(wallTime, step, encodeTag(tag), value)).toEqual(
      encodeSummaryEvent(wallTime, step, { tag, kind: 'scalar', value }),
    );
  });
});
