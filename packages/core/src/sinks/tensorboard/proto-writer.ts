/**
 * The few pieces of the protobuf wire format an event file needs, written by hand so that core
 * has no protobuf dependency (https://protobuf.dev/programming-guides/encoding/): varints, 64-bit
 * doubles, 32-bit floats and length-delimited fields (strings, bytes, nested messages, packed
 * doubles). Every number is little-endian on the wire, whatever the machine.
 */

/** Wire types (encoding guide, "Message Structure"). */
const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

const textEncoder = new TextEncoder();

/** A message being built: append fields in field-number order, then take `finish()`. */
export class ProtoWriter {
  private buffer: Uint8Array;
  private view: DataView;
  private length = 0;

  constructor(initialSize = 64) {
    this.buffer = new Uint8Array(initialSize);
    this.view = new DataView(this.buffer.buffer);
  }

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.length + bytes) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
    this.view = new DataView(grown.buffer);
  }

  /**
   * An unsigned varint of up to 2^53 - 1 (every step livestep accepts). Arithmetic, not bit
   * operators: those cut numbers to 32 bits.
   */
  private varint(value: number): void {
    this.reserve(10);
    let rest = value;
    while (rest >= 0x80) {
      this.buffer[this.length++] = (rest % 0x80) | 0x80;
      rest = Math.floor(rest / 0x80);
    }
    this.buffer[this.length++] = rest;
  }

  private key(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  /** An int32/int64/uint64 field of a non-negative whole number. */
  uint(field: number, value: number): this {
    this.key(field, VARINT);
    this.varint(value);
    return this;
  }

  /** A `double` field. */
  double(field: number, value: number): this {
    this.key(field, FIXED64);
    this.reserve(8);
    this.view.setFloat64(this.length, value, true);
    this.length += 8;
    return this;
  }

  /** A `float` field: the value rounded to float32 (NaN and ±inf kept as such). */
  float(field: number, value: number): this {
    this.key(field, FIXED32);
    this.reserve(4);
    this.view.setFloat32(this.length, value, true);
    this.length += 4;
    return this;
  }

  /** A `bytes` field, or an embedded message already encoded. */
  bytes(field: number, value: Uint8Array): this {
    this.key(field, LENGTH_DELIMITED);
    this.varint(value.length);
    this.reserve(value.length);
    this.buffer.set(value, this.length);
    this.length += value.length;
    return this;
  }

  /** A `string` field, UTF-8. */
  string(field: number, value: string): this {
    return this.bytes(field, textEncoder.encode(value));
  }

  /** A packed `repeated double` field. */
  packedDoubles(field: number, values: readonly number[]): this {
    const packed = new Uint8Array(values.length * 8);
    const view = new DataView(packed.buffer);
    for (let index = 0; index < values.length; index++) {
      view.setFloat64(index * 8, values[index]!, true);
    }
    return this.bytes(field, packed);
  }

  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}
