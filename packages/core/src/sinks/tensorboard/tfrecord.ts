/**
 * TFRecord framing, as tensorflow/core/lib/io/record_writer.cc writes each record of an event
 * file: the data's length as a little-endian uint64, the masked CRC32C of those 8 bytes, the
 * data, then the masked CRC32C of the data (little-endian uint32s). No compression.
 */
import { maskedCrc32c } from './crc32c.js';

/** 8 bytes of length and 4 of its CRC. */
const HEADER_BYTES = 12;
/** 4 bytes of the data's CRC. */
const FOOTER_BYTES = 4;

/** Frames each record and joins them into one buffer, for one write. */
export function frameRecords(records: readonly Uint8Array[]): Buffer {
  let total = 0;
  for (const record of records) total += HEADER_BYTES + record.length + FOOTER_BYTES;
  const out = Buffer.alloc(total);
  let offset = 0;
  for (const record of records) {
    // The length fits in 32 bits (a record is at most an image); the high word stays 0.
    out.writeUInt32LE(record.length, offset);
    out.writeUInt32LE(0, offset + 4);
    out.writeUInt32LE(maskedCrc32c(out, offset, offset + 8), offset + 8);
    out.set(record, offset + HEADER_BYTES);
    const end = offset + HEADER_BYTES + record.length;
    out.writeUInt32LE(maskedCrc32c(out, offset + HEADER_BYTES, end), end);
    offset = end + FOOTER_BYTES;
  }
  return out;
}
