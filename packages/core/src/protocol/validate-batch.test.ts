import { describe, expect, it } from 'vitest';
import { batchJsonSchema } from './events.js';
import { assertValidBatch, validateBatch } from './validate-batch.js';

const run = { id: '6f1c0a52-3f7e-4d7b-9f0e-2b9a1c3d4e5f', experiment: 'e', name: 'n' };
const id = (seq: number) => `6f1c0a52-3f7e-8d7b-9f0e-${seq.toString(16).padStart(12, '0')}`;
const metric = (overrides: Record<string, unknown> = {}) => ({
  id: id(1),
  seq: 1,
  ts: 1_700_000_000_000,
  kind: 'metric',
  name: 'train/loss',
  value: 0.5,
  step: 0,
  ...overrides,
});

describe('validateBatch', () => {
  it('accepts a valid batch', () => {
    const batch = {
      protocol: 1,
      run,
      events: [metric(), metric({ value: 'nan', seq: 2, id: id(2) })],
    };
    expect(validateBatch(batch)).toEqual({ ok: true, batch });
  });

  it.each([
    [{ value: '0.3' }, 'events[0].value'],
    [{ value: null }, 'events[0].value'],
    [{ step: -1 }, 'events[0].step'],
    [{ step: 1.5 }, 'events[0].step'],
    [{ name: '../../etc/passwd' }, 'events[0].name'],
    [{ name: '' }, 'events[0].name'],
    [{ id: 'not-a-uuid' }, 'events[0].id'],
    [{ extra: true }, 'events[0].extra'],
    [{ kind: 'metrik' }, 'events[0].kind'],
  ])('names the field that is wrong: %j', (overrides, path) => {
    const result = validateBatch({ protocol: 1, run, events: [metric(overrides)] });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.issues.map((issue) => issue.path)).toContain(path);
  });

  it('names envelope problems', () => {
    const result = validateBatch({ protocol: 2, run: { ...run, id: 'x' }, events: 'no', more: 1 });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.issues.map((issue) => issue.path)).toEqual([
        'protocol',
        'run.id',
        'more',
        'events',
      ]);
      expect(result.issues[0]!.message).toMatch(/expected 1, got 2/);
    }
    expect(validateBatch(null)).toMatchObject({ ok: false });
  });

  it('throws with every issue in the message', () => {
    expect(() =>
      assertValidBatch({ protocol: 1, run, events: [metric({ value: '0.3' })] }),
    ).toThrow(/livestep: invalid batch: events\[0\]\.value: .*"nan", "inf", "-inf"/);
  });

  it('exports a JSON Schema document', () => {
    expect(batchJsonSchema).toMatchObject({
      type: 'object',
      required: ['protocol', 'run', 'events'],
    });
    expect(JSON.stringify(batchJsonSchema)).toContain('"metric"');
  });
});

describe('validateBatch against keys of Object', () => {
  it.each(['constructor', 'toString', '__proto__', 'hasOwnProperty'])(
    'answers a kind of %j with an issue naming the field, never a throw',
    (kind) => {
      const result = validateBatch({
        protocol: 1,
        run: { id: '00000000-0000-4000-8000-000000000000', experiment: 'e', name: 'n' },
        events: [{ id: '00000000-0000-4000-8000-000000000001', seq: 0, ts: 1, kind }],
      });
      expect(result.ok).toBe(false);
      expect(result.ok === false && result.issues[0]!.path).toBe('events[0].kind');
    },
  );

  it('refuses a step or seq past 2^53 - 1, which JSON cannot carry exactly', () => {
    const result = validateBatch({
      protocol: 1,
      run: { id: '00000000-0000-4000-8000-000000000000', experiment: 'e', name: 'n' },
      events: [
        {
          id: '00000000-0000-4000-8000-000000000001',
          seq: 1e300,
          ts: 1,
          kind: 'metric',
          name: 'm',
          value: 1,
          step: 2 ** 60,
        },
      ],
    });
    expect(result.ok).toBe(false);
    const paths = result.ok ? [] : result.issues.map((issue) => issue.path);
    expect(paths).toEqual(expect.arrayContaining(['events[0].seq', 'events[0].step']));
  });
});
