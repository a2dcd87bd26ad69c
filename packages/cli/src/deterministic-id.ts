import { createHash } from 'node:crypto';

/**
 * A UUID (version 8, RFC 9562) derived from a text, so that the same recorded row always gets
 * the same event id: syncing a folder twice stores nothing twice.
 */
export function deterministicUuid(text: string): string {
  const hex = createHash('sha256').update(text).digest('hex');
  const variant = ((Number.parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
