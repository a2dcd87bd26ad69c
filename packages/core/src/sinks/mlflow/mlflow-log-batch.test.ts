import { describe, expect, it } from 'vitest';
import { MLFLOW_LIMITS, type MlflowEntity } from './mlflow-entities.js';
import { takeLogBatch } from './mlflow-log-batch.js';

const RUN = '0123456789abcdef0123456789abcdef';

function metrics(count: number, keyLength = 10): MlflowEntity[] {
  return Array.from({ length: count }, (_, index) => ({
    type: 'metric' as const,
    entity: {
      key: `m${index}`.padEnd(keyLength, 'x'),
      value: index,
      timestamp: 1_700_000_000_000,
      step: index,
    },
    events: 1,
  }));
}

function keyValues(type: 'param' | 'tag', count: number, valueLength = 5): MlflowEntity[] {
  return Array.from({ length: count }, (_, index) => ({
    type,
    entity: { key: `${type}${index}`, value: 'v'.repeat(valueLength) },
    events: 1,
  }));
}

/** Every request the queue becomes, as parsed bodies. */
function chunks(queue: MlflowEntity[]) {
  const bodies: Array<{
    body: { metrics: unknown[]; params: unknown[]; tags: unknown[] };
    bytes: number;
  }> = [];
  let rest = queue;
  for (;;) {
    const chunk = takeLogBatch(rest, RUN);
    if (chunk === undefined) return bodies;
    expect(chunk.count).toBeGreaterThan(0);
    bodies.push({ body: JSON.parse(chunk.json), bytes: Buffer.byteLength(chunk.json) });
    rest = rest.slice(chunk.count);
  }
}

describe('log-batch chunking', () => {
  it('takes at most 1000 metrics a request, in order', () => {
    const bodies = chunks(metrics(2500));
    expect(bodies.map(({ body }) => body.metrics.length)).toEqual([1000, 1000, 500]);
    const steps = bodies.flatMap(({ body }) =>
      body.metrics.map((metric) => (metric as { step: number }).step),
    );
    expect(steps).toEqual(Array.from({ length: 2500 }, (_, index) => index));
  });

  it('takes at most 100 params and 100 tags a request', () => {
    expect(chunks(keyValues('param', 250)).map(({ body }) => body.params.length)).toEqual([
      100, 100, 50,
    ]);
    expect(chunks(keyValues('tag', 201)).map(({ body }) => body.tags.length)).toEqual([
      100, 100, 1,
    ]);
  });

  it('takes at most 1000 entities in total', () => {
    const queue = [...keyValues('param', 50), ...metrics(980), ...keyValues('tag', 30)];
    const bodies = chunks(queue);
    const totals = bodies.map(
      ({ body }) => body.metrics.length + body.params.length + body.tags.length,
    );
    expect(totals).toEqual([1000, 60]);
    expect(totals[0]).toBeLessThanOrEqual(MLFLOW_LIMITS.maxEntities);
  });

  it('keeps every request within 1,000,000 bytes', () => {
    // 100 params of 6000 characters a request would be 600 kB; tags of 5000 and long keys add up.
    const queue = [
      ...keyValues('param', 300, 6000),
      ...keyValues('tag', 300, 5000),
      ...metrics(3000, 250),
    ];
    const bodies = chunks(queue);
    for (const { bytes, body } of bodies) {
      expect(bytes).toBeLessThanOrEqual(MLFLOW_LIMITS.maxRequestBytes);
      expect(body.metrics.length).toBeLessThanOrEqual(1000);
      expect(body.params.length).toBeLessThanOrEqual(100);
      expect(body.tags.length).toBeLessThanOrEqual(100);
    }
    const total = bodies.reduce(
      (sum, { body }) => sum + body.metrics.length + body.params.length + body.tags.length,
      0,
    );
    expect(total).toBe(3600);
  });

  it('cuts by bytes when a lower body limit is set', () => {
    const limits = { ...MLFLOW_LIMITS, maxRequestBytes: 2_000 };
    const queue = metrics(100);
    const chunk = takeLogBatch(queue, RUN, limits)!;
    expect(Buffer.byteLength(chunk.json)).toBeLessThanOrEqual(2_000);
    expect(chunk.count).toBeGreaterThan(1);
    expect(chunk.count).toBeLessThan(100);
    expect(chunk.events).toBe(chunk.count);
  });

  it('is undefined for an empty queue', () => {
    expect(takeLogBatch([], RUN)).toBeUndefined();
  });
});
