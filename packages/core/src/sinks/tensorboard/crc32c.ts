/**
 * CRC32C (Castagnoli), as TFRecord frames use it, and TensorFlow's mask over it.
 *
 * Table-driven, one byte per step, over the reflected polynomial 0x82F63B78 (the Castagnoli
 * polynomial 0x1EDC6F41 bit-reversed, as RFC 3720 B.4 gives it for iSCSI). A record of a few
 * hundred bytes costs well under a microsecond, so no slicing-by-8 table is worth its size.
 */

const CASTAGNOLI_REFLECTED = 0x82f63b78;

/** TensorFlow's `kMaskDelta` (tensorflow/core/lib/hash/crc32c.h, the same in leveldb). */
const MASK_DELTA = 0xa282ead8;

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 1 ? (crc >>> 1) ^ CASTAGNOLI_REFLECTED : crc >>> 1;
    table[byte] = crc >>> 0;
  }
  return table;
})();

/** The CRC32C of `bytes[start, end)`, as an unsigned 32-bit number. */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0xffffffff;
  for (let index = start; index < end; index++) {
    crc = TABLE[(crc ^ bytes[index]!) & 0xff]! ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * TensorFlow's masked CRC: rotated right by 15 bits, plus a constant, so that the CRC of data
 * holding CRCs is not degenerate (record_writer.cc stores only masked CRCs).
 */
export function maskCrc(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + MASK_DELTA) >>> 0;
}

/** The masked CRC32C of `bytes[start, end)`: what a TFRecord header or footer holds. */
export function maskedCrc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return maskCrc(crc32c(bytes, start, end));
}
