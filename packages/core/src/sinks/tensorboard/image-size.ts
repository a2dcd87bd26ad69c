/**
 * Width, height and colorspace of an encoded image, read from its header, for Summary.Image
 * (TensorBoard shows the encoded bytes as they are; the sizes label them). The image types
 * livestep accepts: PNG (the IHDR chunk, PNG spec 11.2.2), JPEG (the first start-of-frame
 * segment, ITU T.81 B.2.2) and GIF (the logical screen descriptor, GIF89a section 18).
 */

/** summary.proto's colorspaces. */
const GRAYSCALE = 1;
const GRAYSCALE_ALPHA = 2;
const RGB = 3;
const RGBA = 4;

export interface ImageSize {
  width: number;
  height: number;
  colorspace: number;
}

/** PNG colour types (IHDR) to colorspaces; a palette image is shown as RGB. */
const PNG_COLORSPACE: Record<number, number> = {
  0: GRAYSCALE,
  2: RGB,
  3: RGB,
  4: GRAYSCALE_ALPHA,
  6: RGBA,
};

function pngSize(bytes: Uint8Array, view: DataView): ImageSize | undefined {
  // 8-byte signature, then the IHDR chunk: length, "IHDR", width, height, depth, colour type.
  if (bytes.length < 26) return undefined;
  return {
    width: view.getUint32(16),
    height: view.getUint32(20),
    colorspace: PNG_COLORSPACE[bytes[25]!] ?? RGB,
  };
}

/** SOF0 to SOF15, less DHT (C4), JPG (C8) and DAC (CC), which share the range. */
function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

function jpegSize(bytes: Uint8Array, view: DataView): ImageSize | undefined {
  let offset = 2;
  while (offset + 9 < bytes.length) {
    if (bytes[offset] !== 0xff) return undefined;
    const marker = bytes[offset + 1]!;
    // Fill bytes, and markers with no segment (TEM, RSTn): step over them.
    if (marker === 0xff || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      offset += marker === 0xff ? 1 : 2;
      continue;
    }
    if (isStartOfFrame(marker)) {
      // Length (2), precision (1), height (2), width (2), components (1).
      const components = bytes[offset + 9]!;
      return {
        height: view.getUint16(offset + 5),
        width: view.getUint16(offset + 7),
        colorspace: components === 1 ? GRAYSCALE : RGB,
      };
    }
    offset += 2 + view.getUint16(offset + 2);
  }
  return undefined;
}

function gifSize(bytes: Uint8Array, view: DataView): ImageSize | undefined {
  if (bytes.length < 10) return undefined;
  return { width: view.getUint16(6, true), height: view.getUint16(8, true), colorspace: RGB };
}

/** The image's size, or undefined when its header cannot be read (it is written without). */
export function readImageSize(bytes: Uint8Array): ImageSize | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) {
    return pngSize(bytes, view);
  }
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return jpegSize(bytes, view);
  if (bytes[0] === 0x47 && bytes[1] === 0x49 && bytes[2] === 0x46) return gifSize(bytes, view);
  return undefined;
}
