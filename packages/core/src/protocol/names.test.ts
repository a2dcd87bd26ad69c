import { describe, expect, it } from 'vitest';
import { MAX_NAME_LENGTH } from './events.js';
import { assertValidName, explainBadName } from './names.js';

describe('metric names', () => {
  it.each([
    'loss',
    'train/loss',
    'eval/accuracy',
    'system/cpu/usage (%)',
    'system/ram/usage (GB)',
    'a.b/c-d_e',
    'x'.repeat(MAX_NAME_LENGTH),
  ])('accepts %j', (name) => {
    expect(explainBadName(name)).toBeUndefined();
    expect(() => assertValidName(name, 'metric')).not.toThrow();
  });

  it.each([
    ['', /must not be empty/],
    ['../../x', /"\.\." path segment/],
    ['a/../../etc/passwd', /"\.\." path segment/],
    ['..', /"\.\." path segment/],
    ['./x', /"\." path segment/],
    ['a/./b', /"\." path segment/],
    ['/etc/passwd', /must be relative/],
    ['a//b', /empty path segment/],
    ['a/', /empty path segment/],
    ['C:\\Windows\\x', /contains ":"/],
    ['a\\..\\b', /contains "\\\\"/],
    ['loss\u0000.tsv', /contains "\\u0000"/],
    ['line\nbreak', /contains "\\n"/],
    ['bell\u0007', /contains "\\u0007"/],
    ['del\u007f', /contains "\\u007f"/],
    ['x'.repeat(MAX_NAME_LENGTH + 1), /characters long; the limit is 200/],
    ['a/ b', /leading or trailing spaces/],
  ])('rejects %j', (name, reason) => {
    expect(explainBadName(name)).toMatch(reason);
    expect(() => assertValidName(name, 'metric')).toThrow(TypeError);
    expect(() => assertValidName(name, 'metric')).toThrow(
      /livestep: metric name .* Names are "\/"-separated paths/,
    );
  });

  it('rejects names that are not strings', () => {
    expect(() => assertValidName(42 as unknown as string, 'plot')).toThrow(
      /plot name 42 must be a string/,
    );
  });
});
