/**
 * Comparing secrets: both sides as SHA-256 digests compared with timingSafeEqual, so neither the
 * content nor the length of a token leaks through the time a comparison takes.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

export function matchesDigest(presented: string, expected: Buffer): boolean {
  return timingSafeEqual(digest(presented), expected);
}

/** The token a request carries, from either scheme (`Bearer <token>`, or Studio's `token <token>`). */
export function presentedToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^(?:bearer|token)\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
