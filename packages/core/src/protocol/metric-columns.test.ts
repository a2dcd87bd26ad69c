import { describe, expect, it } from 'vitest';
import { createEventIdFactory } from '../run/event-id.js';
import { type MetricEvent, wireBatchJsonSchema } from './events.js';
import {
  encodeMetricColumns,
  expandMetricColumns,
  METRIC_COLUMNS_CAPABILITY,
  prefixedEventId,
} from './metric-columns.js';
import { validateBatch } from './validate-batch.js';

const run = { id: '6f1c0a52-3f7e-4d7b-9f0e-2b9a1c3d4e5f', experiment: 'e', name: 'n' };
const eventId = createEventIdFactory();

function metric(seq: number, overrides: Partial<MetricEvent> = {}): MetricEvent {
  return {
    id: eventId(seq),
    seq,
    ts: 1_700_000_000_000 + seq,
    kind: 'metric',
    name: seq % 2 ? 'train/loss' : 'train/accuracy',
    value: seq / 10,
    step: seq >> 1,
    ...overrides,
  };
}

const points = (count: number, from = 0) =>
  Array.from({ length: count }, (_, index) => metric(from + index));

function columnsOf(events: MetricEvent[]): Record<string, unknown> {
  const columns = encodeMetricColumns(events);
  if (columns === undefined) throw new Error('not encodable');
  return JSON.parse(JSON.stringify(columns));
}

function validate(block: unknown) {
  return validateBatch({ protocol: 1, run, events: [block] }, { metricColumns: true });
}

function pathsOf(block: unknown): string[] {
  const result = validate(block);
  expect(result.ok).toBe(false);
  return result.ok ? [] : result.issues.map((issue) => issue.path);
}

describe('metric columns', () => {
  it('carry every field of every point, NaN and the infinities too, through JSON', () => {
    const events = [
      ...points(600, 300),
      metric(900, { value: 'nan' }),
      metric(901, { value: 'inf', labels: { class: 'setosa' } }),
      metric(902, { value: '-inf', labels: { class: 'virginica' }, ts: 1_700_000_000_000.25 }),
      metric(903, { step: 0, labels: { class: 'setosa' } }),
    ];
    const block = columnsOf(events);
    expect(block.idPrefix).toBe(events[0]!.id.slice(0, 24));
    expect(block.ids).toBeUndefined();
    // One entry per name and labels: the labelled series are told apart.
    expect(block.names).toEqual(['train/accuracy', 'train/loss', 'train/loss', 'train/accuracy']);
    expect(block.labels).toEqual([null, null, { class: 'setosa' }, { class: 'virginica' }]);
    expect(validate(block)).toMatchObject({ ok: true });
    expect(expandMetricColumns(block as never)).toEqual(events);
  });

  it('list ids that do not follow the seq pattern, so any client keeps its ids', () => {
    const events = points(3).map((event) => ({ ...event, id: crypto.randomUUID() }));
    const block = columnsOf(events);
    expect(block.idPrefix).toBeUndefined();
    expect(block.ids).toEqual(events.map((event) => event.id));
    expect(validate(block)).toMatchObject({ ok: true });
    expect(expandMetricColumns(block as never)).toEqual(events);
  });

  it('give the same ids as the Run makes (idempotency holds whichever form carried a point)', () => {
    const prefix = eventId(0).slice(0, 24);
    for (const seq of [0, 255, 256, 70_000, 2 ** 40 + 3]) {
      expect(prefixedEventId(prefix, seq)).toBe(eventId(seq));
    }
  });

  it('are refused by the default validator: files and spools hold event objects only', () => {
    const result = validateBatch({ protocol: 1, run, events: [columnsOf(points(2))] });
    expect(result).toMatchObject({ ok: false, issues: [{ path: 'events[0].kind' }] });
  });

  it('are in the exported wire schema, and the capability has a stable name', () => {
    expect(JSON.stringify(wireBatchJsonSchema)).toContain('"metrics"');
    expect(METRIC_COLUMNS_CAPABILITY).toBe('metric-columns');
  });

  it.each<[string, (block: Record<string, unknown>) => void, string]>([
    ['a string value', (b) => ((b.values as unknown[])[1] = '0.3'), 'events[0].values[1]'],
    ['a null value', (b) => ((b.values as unknown[])[0] = null), 'events[0].values[0]'],
    [
      'a fractional step delta',
      (b) => ((b.stepDeltas as unknown[])[2] = 0.5),
      'events[0].stepDeltas[2]',
    ],
    [
      'a step that sums below 0',
      (b) => ((b.stepDeltas as number[])[0] = -1),
      'events[0].stepDeltas[0]',
    ],
    [
      'a seq that sums below 0',
      (b) => ((b.seqDeltas as number[])[2] = -10),
      'events[0].seqDeltas[2]',
    ],
    [
      'a seq past 12 hex digits',
      (b) => ((b.seqDeltas as number[])[0] = 2 ** 48),
      'events[0].seqDeltas[0]',
    ],
    [
      'a ts that sums below 0',
      (b) => ((b.tsDeltas as number[])[1] = -2e12),
      'events[0].tsDeltas[1]',
    ],
    [
      'a ts delta that is text',
      (b) => ((b.tsDeltas as unknown[])[1] = '1'),
      'events[0].tsDeltas[1]',
    ],
    [
      'a name index past names',
      (b) => ((b.nameIndex as number[])[3] = 2),
      'events[0].nameIndex[3]',
    ],
    ['a negative name index', (b) => ((b.nameIndex as number[])[3] = -1), 'events[0].nameIndex[3]'],
    [
      'a path-like name',
      (b) => ((b.names as string[])[1] = '../../etc/passwd'),
      'events[0].names[1]',
    ],
    ['an empty name', (b) => ((b.names as string[])[0] = ''), 'events[0].names[0]'],
    ['no names', (b) => (b.names = []), 'events[0].names'],
    ['a short column', (b) => (b.tsDeltas as number[]).pop(), 'events[0].tsDeltas'],
    ['a long column', (b) => (b.nameIndex as number[]).push(0), 'events[0].nameIndex'],
    ['a missing column', (b) => delete b.stepDeltas, 'events[0].stepDeltas'],
    ['no ids at all', (b) => delete b.idPrefix, 'events[0].idPrefix'],
    [
      'both idPrefix and ids',
      (b) => (b.ids = ['6f1c0a52-3f7e-4d7b-9f0e-2b9a1c3d4e5f']),
      'events[0].ids',
    ],
    ['a bad id prefix', (b) => (b.idPrefix = 'zz'), 'events[0].idPrefix'],
    ['labels not one per name', (b) => (b.labels = [null]), 'events[0].labels'],
    ['labels that are not strings', (b) => (b.labels = [{ a: 1 }, null]), 'events[0].labels[0]'],
    ['an unknown field', (b) => (b.extra = 1), 'events[0].extra'],
  ])('name the field that is wrong: %s', (_, spoil, path) => {
    const block = columnsOf(points(4));
    spoil(block);
    expect(pathsOf(block)).toContain(path);
  });

  it('name a bad id in an id list by its index', () => {
    const block = columnsOf(points(3).map((event) => ({ ...event, id: crypto.randomUUID() })));
    (block.ids as string[])[2] = 'not-a-uuid';
    expect(pathsOf(block)).toContain('events[0].ids[2]');
    (block.ids as string[]).pop();
    (block.ids as string[]).pop();
    expect(pathsOf(block)).toContain('events[0].ids');
  });

  it('mix with event objects in one batch, and a wrong object is still named by its index', () => {
    const batch = {
      protocol: 1,
      run,
      events: [metric(0), columnsOf(points(3, 1)), { ...metric(4), step: -1 }],
    };
    const result = validateBatch(batch, { metricColumns: true });
    expect(result).toMatchObject({ ok: false, issues: [{ path: 'events[2].step' }] });
    batch.events.pop();
    expect(validateBatch(batch, { metricColumns: true })).toMatchObject({ ok: true });
  });

  it('fall back to objects when a timestamp would not sum back exactly', () => {
    expect(
      encodeMetricColumns([
        metric(0, { ts: 7.682418712228689 }),
        metric(1, { ts: 94.8715184127933 }),
      ]),
    ).toBeUndefined();
  });
});
