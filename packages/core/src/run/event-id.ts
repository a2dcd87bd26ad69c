import { createHash, randomBytes } from 'node:crypto';

/** `00` … `ff`: the last two hex digits of an id, looked up instead of formatted. */
const BYTE_HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

/**
 * Event ids are UUIDs (version 8, RFC 9562) made of 74 random bits drawn once per run and the
 * event's sequence number. They are unique across runs, stable for one event however often it is
 * retried or replayed, and cost a string concatenation instead of a random draw per event.
 *
 * Formatting a number in hex is the dearest step of logging a metric, so it happens once per 256
 * consecutive sequence numbers: within such a block only the last two digits change, and they
 * come from a table.
 */
export function createEventIdFactory(): (seq: number) => string {
  const hex = randomBytes(10).toString('hex');
  const variant = ((Number.parseInt(hex[15]!, 16) & 0x3) | 0x8).toString(16);
  const prefix = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(12, 15)}-${variant}${hex.slice(16, 19)}-`;
  let block = -1;
  let blockPrefix = '';
  return (seq) => {
    const high = Math.floor(seq / 256);
    if (high !== block) {
      block = high;
      // 12 hex digits in all (48 bits of sequence): 10 for the block, 2 for the position in it.
      blockPrefix = prefix + high.toString(16).padStart(10, '0');
    }
    return blockPrefix + BYTE_HEX[seq - high * 256]!;
  };
}

/**
 * A UUID (version 8, RFC 9562) derived from a text, so that the same recorded row always gets
 * the same event id: reading a run folder twice and syncing it twice stores nothing twice.
 */
export function deterministicUuid(text: string): string {
  const hex = createHash('sha256').update(text).digest('hex');
  const variant = ((Number.parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
