import { describe, expect, it } from 'vitest';
import { createMemoryByteSource } from './byte-source.js';
import {
  decodeVarint,
  MalformedProtobufError,
  type ProtobufField,
  readFields,
  readString,
} from './protobuf-fields.js';

async function collect(bytes: number[]): Promise<ProtobufField[]> {
  const source = createMemoryByteSource(Uint8Array.from(bytes));
  const fields: ProtobufField[] = [];
  for await (const field of readFields(source, 0, source.size)) fields.push(field);
  return fields;
}

describe('decodeVarint', () => {
  it('reads one-byte, multi-byte and 2^53-range varints', () => {
    expect(decodeVarint(Uint8Array.from([0x08]), 0)).toEqual({ value: 8, next: 1 });
    // 300 = 0b10_0101100: 0xac 0x02, the example of the protobuf encoding guide.
    expect(decodeVarint(Uint8Array.from([0xac, 0x02]), 0)).toEqual({ value: 300, next: 2 });
    const large = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]; // 2^53 - 1
    expect(decodeVarint(Uint8Array.from(large), 0).value).toBe(2 ** 53 - 1);
  });

  it('refuses a cut-off or over-long varint', () => {
    expect(() => decodeVarint(Uint8Array.from([0x80]), 0)).toThrow(MalformedProtobufError);
    expect(() => decodeVarint(new Uint8Array(11).fill(0x80), 0)).toThrow(/longer than 10 bytes/);
  });
});

describe('readFields', () => {
  it('walks varint, fixed and length-delimited fields and reads strings', async () => {
    // field 1 varint 150; field 2 "hi"; field 3 fixed32; field 4 fixed64
    const fields = await collect([
      0x08, 0x96, 0x01, 0x12, 0x02, 0x68, 0x69, 0x1d, 1, 2, 3, 4, 0x21, 1, 2, 3, 4, 5, 6, 7, 8,
    ]);
    expect(fields.map((field) => [field.number, field.wireType, field.length])).toEqual([
      [1, 0, 2],
      [2, 2, 2],
      [3, 5, 4],
      [4, 1, 8],
    ]);
    expect(fields[0]!.value).toBe(150);
    const source = createMemoryByteSource(Uint8Array.from([0x12, 0x02, 0x68, 0x69]));
    for await (const field of readFields(source, 0, source.size)) {
      expect(await readString(source, field)).toBe('hi');
    }
  });

  it('refuses a field that runs past its message, group wire types and field number 0', async () => {
    await expect(collect([0x12, 0x05, 0x68])).rejects.toThrow(/runs past its message/);
    await expect(collect([0x0b])).rejects.toThrow(/wire type 3/);
    await expect(collect([0x00, 0x00])).rejects.toThrow(/number 0/);
  });
});
