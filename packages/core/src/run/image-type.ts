import type { ImageMimeType } from '../protocol/events.js';

/** The signatures an image file starts with. */
const MAGIC_BYTES: Array<[ImageMimeType, number[]]> = [
  ['image/png', [0x89, 0x50, 0x4e, 0x47]],
  ['image/jpeg', [0xff, 0xd8, 0xff]],
  ['image/gif', [0x47, 0x49, 0x46, 0x38]],
];

/** An image's type from its first bytes, or undefined when it is none of the types DVC shows. */
export function detectImageMime(bytes: Uint8Array): ImageMimeType | undefined {
  for (const [mime, magic] of MAGIC_BYTES) {
    if (magic.every((byte, index) => bytes[index] === byte)) return mime;
  }
  return undefined;
}
