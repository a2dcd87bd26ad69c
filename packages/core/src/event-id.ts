import { randomBytes } from 'node:crypto';

/**
 * Event ids are UUIDs (version 8, RFC 9562) made of 74 random bits drawn once per run and the
 * event's sequence number. They are unique across runs, stable for one event however often it is
 * retried or replayed, and cost a string concatenation instead of a random draw per event.
 */
export function createEventIdFactory(): (seq: number) => string {
  const hex = randomBytes(10).toString('hex');
  const variant = ((Number.parseInt(hex[15]!, 16) & 0x3) | 0x8).toString(16);
  const prefix = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(12, 15)}-${variant}${hex.slice(16, 19)}-`;
  return (seq) => prefix + seq.toString(16).padStart(12, '0');
}
