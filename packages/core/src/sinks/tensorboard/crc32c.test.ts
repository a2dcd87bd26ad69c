/**
 * The CRC32C against published check values (RFC 3720 B.4, the iSCSI vectors, and the standard
 * "123456789" check), the bitwise reference of the test reader, and TFRecord framing as the
 * format states it.
 */
import { describe, expect, it } from 'vitest';
import { crc32c, maskCrc, maskedCrc32c } from './crc32c.js';
import { referenceCrc32c } from './test-support/event-file-reader.js';
import { frameRecords } from './tfrecord.js';

const bytes = (values: Iterable<number>) => Uint8Array.from(values);

describe('crc32c', () => {
  it('matches the published check values', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    // RFC 3720 B.4: 32 bytes of zeros, of ones, ascending, descending.
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(bytes(Array.from({ length: 32 }, (_, index) => index)))).toBe(0x46dd794e);
    expect(crc32c(bytes(Array.from({ length: 32 }, (_, index) => 31 - index)))).toBe(0x113fdb5c);
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });

  it('agrees with the bitwise definition on arbitrary data, and on a range of a buffer', () => {
    let state = 12345;
    const data = bytes(
      Array.from({ length: 4099 }, () => {
        state = (state * 1103515245 + 12345) % 2 ** 31;
        return state & 0xff;
      }),
    );
    expect(crc32c(data)).toBe(referenceCrc32c(data));
    expect(crc32c(data, 100, 900)).toBe(referenceCrc32c(data.subarray(100, 900)));
    expect(referenceCrc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
  });

  it('masks as TensorFlow does: rotate right 15, add 0xa282ead8, in 32 bits', () => {
    expect(maskCrc(0)).toBe(0xa282ead8);
    // 0x00008000 rotated right by 15 is 1.
    expect(maskCrc(0x8000)).toBe(0xa282ead9);
    // Wraps around 2^32.
    expect(maskCrc(0xffffffff)).toBe((0xffffffff + 0xa282ead8) % 2 ** 32);
  });
});

describe('TFRecord framing', () => {
  it('frames each record as length, masked CRC of the length, data, masked CRC of the data', () => {
    const first = new TextEncoder().encode('hello');
    const second = new Uint8Array(300).fill(7);
    const framed = frameRecords([first, second]);
    expect(framed.length).toBe(12 + 5 + 4 + 12 + 300 + 4);
    expect(framed.readBigUInt64LE(0)).toBe(5n);
    expect(framed.readUInt32LE(8)).toBe(maskedCrc32c(framed.subarray(0, 8)));
    expect(framed.subarray(12, 17)).toEqual(Buffer.from('hello'));
    expect(framed.readUInt32LE(17)).toBe(maskedCrc32c(first));
    expect(framed.readBigUInt64LE(21)).toBe(300n);
    expect(framed.readUInt32LE(21 + 12 + 300)).toBe(maskedCrc32c(second));
  });
});
