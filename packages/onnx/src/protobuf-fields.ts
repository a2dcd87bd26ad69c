/**
 * The protobuf wire format, as far as reading a few fields of an ONNX model needs it: walk the
 * fields of a message, read varints and strings, skip everything else by its length.
 * https://protobuf.dev/programming-guides/encoding/
 */
import type { ByteSource } from './byte-source.js';

/** A varint is at most 10 bytes (64 bits, 7 per byte). */
const MAX_VARINT_BYTES = 10;
/** A field header: a tag varint and, for length-delimited fields, a length varint. */
const MAX_FIELD_HEADER_BYTES = 2 * MAX_VARINT_BYTES;

export const WIRE_TYPE = {
  varint: 0,
  fixed64: 1,
  lengthDelimited: 2,
  fixed32: 5,
} as const;

export interface ProtobufField {
  /** The field number, as in the .proto file. */
  number: number;
  wireType: number;
  /** The value of a varint field (exact up to 2^53, which version numbers never reach). */
  value: number;
  /** Where the field's content starts in the source (for length-delimited fields: after the length). */
  start: number;
  /** The content's length in bytes. */
  length: number;
}

export class MalformedProtobufError extends Error {
  override readonly name = 'MalformedProtobufError';
}

/** Decodes the varint at `offset`; `next` is the offset after it. */
export function decodeVarint(bytes: Uint8Array, offset: number): { value: number; next: number } {
  let value = 0;
  let multiplier = 1;
  for (let index = 0; index < MAX_VARINT_BYTES; index++) {
    const byte = bytes[offset + index];
    if (byte === undefined) throw new MalformedProtobufError('a varint is cut off');
    value += (byte & 0x7f) * multiplier;
    multiplier *= 128;
    if ((byte & 0x80) === 0) return { value, next: offset + index + 1 };
  }
  throw new MalformedProtobufError('a varint is longer than 10 bytes');
}

/** The fields of the message that spans [start, end) of the source, in order. */
export async function* readFields(
  source: ByteSource,
  start: number,
  end: number,
): AsyncGenerator<ProtobufField> {
  let offset = start;
  while (offset < end) {
    const head = await source.read(offset, Math.min(MAX_FIELD_HEADER_BYTES, end - offset));
    const tag = decodeVarint(head, 0);
    const number = Math.floor(tag.value / 8);
    const wireType = tag.value % 8;
    let field: ProtobufField;
    switch (wireType) {
      case WIRE_TYPE.varint: {
        const varint = decodeVarint(head, tag.next);
        field = {
          number,
          wireType,
          value: varint.value,
          start: offset + tag.next,
          length: varint.next - tag.next,
        };
        break;
      }
      case WIRE_TYPE.fixed64:
      case WIRE_TYPE.fixed32:
        field = {
          number,
          wireType,
          value: 0,
          start: offset + tag.next,
          length: wireType === WIRE_TYPE.fixed64 ? 8 : 4,
        };
        break;
      case WIRE_TYPE.lengthDelimited: {
        const length = decodeVarint(head, tag.next);
        field = { number, wireType, value: 0, start: offset + length.next, length: length.value };
        break;
      }
      default:
        throw new MalformedProtobufError(`field ${number} has wire type ${wireType}`);
    }
    if (number === 0) throw new MalformedProtobufError('a field has number 0');
    offset = field.start + field.length;
    if (offset > end) throw new MalformedProtobufError(`field ${number} runs past its message`);
    yield field;
  }
}

/** The content of a length-delimited field as UTF-8 text. */
export async function readString(source: ByteSource, field: ProtobufField): Promise<string> {
  const bytes = await source.read(field.start, field.length);
  if (bytes.length !== field.length) throw new MalformedProtobufError('a string is cut off');
  return new TextDecoder().decode(bytes);
}
