import { describe, expect, it } from 'vitest';
import { stringifyJsonSafe } from './json-safe.js';
import { cutMessage, MAX_MESSAGE_LENGTH } from './studio-bodies.js';

describe('cutMessage', () => {
  it('keeps 72 characters, never half a character', () => {
    expect(cutMessage('short')).toBe('short');
    expect(cutMessage('x'.repeat(100))).toHaveLength(MAX_MESSAGE_LENGTH);
    const emoji = '🙂'.repeat(80);
    expect(Array.from(cutMessage(emoji))).toHaveLength(72);
    expect(cutMessage(emoji)).not.toMatch(/[\uD800-\uDBFF]$/);
  });
});

describe('stringifyJsonSafe', () => {
  it('writes non-finite numbers as the strings DVCLive uses, at any depth', () => {
    expect(
      stringifyJsonSafe({ a: [Number.NaN, { b: Number.POSITIVE_INFINITY }], c: -Infinity, d: 1.5 }),
    ).toBe('{"a":["nan",{"b":"inf"}],"c":"-inf","d":1.5}');
  });
});
