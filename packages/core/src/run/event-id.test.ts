import { describe, expect, it } from 'vitest';
import { createEventIdFactory } from './event-id.js';

const UUID_V8 = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The sequence number an id carries in its last 12 hex digits. */
const seqOf = (id: string) => Number.parseInt(id.slice(-12), 16);

describe('event ids', () => {
  it('are UUIDs of version 8 that carry the sequence number, across block boundaries', () => {
    const eventId = createEventIdFactory();
    for (const seq of [
      0,
      1,
      254,
      255,
      256,
      257,
      511,
      512,
      65_535,
      65_536,
      2 ** 32 + 5,
      2 ** 48 - 1,
    ]) {
      const id = eventId(seq);
      expect(id).toMatch(UUID_V8);
      expect(seqOf(id)).toBe(seq);
    }
  });

  it('are stable for one sequence number, whatever was asked in between', () => {
    const eventId = createEventIdFactory();
    const first = eventId(300);
    eventId(5);
    eventId(70_000);
    expect(eventId(300)).toBe(first);
  });

  it('are unique within a run and share the random part of the run', () => {
    const eventId = createEventIdFactory();
    const ids = Array.from({ length: 5_000 }, (_, seq) => eventId(seq));
    expect(new Set(ids).size).toBe(ids.length);
    const randomPart = new Set(ids.map((id) => id.slice(0, 23)));
    expect(randomPart.size).toBe(1);
  });

  it('differ between runs for the same sequence number', () => {
    expect(createEventIdFactory()(7)).not.toBe(createEventIdFactory()(7));
  });
});
