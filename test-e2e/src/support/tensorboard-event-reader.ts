/**
 * A reader of TensorBoard event files for the end-to-end tests, written from the format
 * (backends.md C.3, C.4) and sharing no code with the writer in @livestep/core: TFRecord framing
 * with both masked CRC32Cs checked, and the Event, Summary and Summary.Value fields decoded by
 * hand (wire types 0, 1, 2, 5). TensorBoard itself (Python, PyPI) cannot be installed here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** CRC32C, bit by bit (reflected Castagnoli polynomial, RFC 3720 B.4). */
function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
const masked = (crc: number) => ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) % 2 ** 32;

type Fields = Map<number, Array<number | Uint8Array>>;

/** A message's fields by number: varints as numbers, everything else as its bytes. */
function fieldsOf(message: Uint8Array): Fields {
  const fields: Fields = new Map();
  let offset = 0;
  const varint = () => {
    let value = 0;
    for (let scale = 1; ; scale *= 128) {
      const byte = message[offset++];
      if (byte === undefined) throw new Error('varint past the end');
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
    }
  };
  const take = (length: number) => {
    if (offset + length > message.length) throw new Error('field past the end');
    offset += length;
    return message.subarray(offset - length, offset);
  };
  while (offset < message.length) {
    const key = varint();
    const wire = key % 8;
    const value =
      wire === 0
        ? varint()
        : wire === 1
          ? take(8)
          : wire === 2
            ? take(varint())
            : wire === 5
              ? take(4)
              : undefined;
    if (value === undefined) throw new Error(`wire type ${wire}`);
    fields.set(Math.floor(key / 8), [...(fields.get(Math.floor(key / 8)) ?? []), value]);
  }
  return fields;
}
const bytesOf = (fields: Fields, number: number) =>
  fields.get(number)?.at(-1) as Uint8Array | undefined;
const dataView = (bytes: Uint8Array) =>
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const text = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes);

export interface ReadValue {
  tag: string;
  simpleValue?: number;
  pluginName?: string;
  strings: string[];
  histo?: { num: number; bucket: number[] };
}
export interface ReadEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  values: ReadValue[];
}

function readEvent(record: Uint8Array): ReadEvent {
  const fields = fieldsOf(record);
  const wallTime = bytesOf(fields, 1);
  const event: ReadEvent = {
    wallTime: wallTime ? dataView(wallTime).getFloat64(0, true) : 0,
    step: (fields.get(2)?.at(-1) as number | undefined) ?? 0,
    values: [],
  };
  if (fields.has(3)) event.fileVersion = text(bytesOf(fields, 3));
  const summary = bytesOf(fields, 5);
  for (const valueBytes of summary ? (fieldsOf(summary).get(1) ?? []) : []) {
    const value = fieldsOf(valueBytes as Uint8Array);
    const read: ReadValue = { tag: text(bytesOf(value, 1)), strings: [] };
    const simple = bytesOf(value, 2);
    if (simple) read.simpleValue = dataView(simple).getFloat32(0, true);
    const tensor = bytesOf(value, 8);
    if (tensor)
      read.strings = (fieldsOf(tensor).get(8) ?? []).map((item) => text(item as Uint8Array));
    const histo = bytesOf(value, 5);
    if (histo) {
      const [num, bucket] = [bytesOf(fieldsOf(histo), 3)!, bytesOf(fieldsOf(histo), 7)!];
      const counts = Array.from({ length: bucket.length / 8 }, (_, at) =>
        dataView(bucket).getFloat64(at * 8, true),
      );
      read.histo = { num: dataView(num).getFloat64(0, true), bucket: counts };
    }
    const metadata = bytesOf(value, 9);
    const plugin = metadata && bytesOf(fieldsOf(metadata), 1);
    if (plugin) read.pluginName = text(bytesOf(fieldsOf(plugin), 1));
    event.values.push(read);
  }
  return event;
}

/** An event file's events, CRCs checked; a record still being written at the end is left out. */
function readEventFile(path: string): ReadEvent[] {
  const file = readFileSync(path);
  const events: ReadEvent[] = [];
  for (let offset = 0; offset + 12 <= file.length; ) {
    const length = Number(file.readBigUInt64LE(offset));
    if (masked(crc32c(file.subarray(offset, offset + 8))) !== file.readUInt32LE(offset + 8)) {
      throw new Error(`${path}: bad length CRC at byte ${offset}`);
    }
    if (offset + 16 + length > file.length) break;
    const record = file.subarray(offset + 12, offset + 12 + length);
    if (masked(crc32c(record)) !== file.readUInt32LE(offset + 12 + length)) {
      throw new Error(`${path}: bad data CRC at byte ${offset}`);
    }
    events.push(readEvent(record));
    offset += 16 + length;
  }
  return events;
}

/** Every event file under a log directory, by folder ('.' for the directory itself). */
export function readLogDirectory(
  root: string,
): Map<string, { files: string[]; events: ReadEvent[] }> {
  const folders = new Map<string, { files: string[]; events: ReadEvent[] }>();
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.includes('tfevents')) continue;
    const key = relative(root, entry.parentPath).split('\\').join('/') || '.';
    const found = folders.get(key) ?? { files: [], events: [] };
    found.files.push(entry.name);
    found.events.push(...readEventFile(join(entry.parentPath, entry.name)));
    folders.set(key, found);
  }
  return folders;
}

/** A folder's scalars: tag -> points in file order. */
export function scalarsOf(
  events: readonly ReadEvent[],
): Map<string, Array<{ step: number; value: number }>> {
  const scalars = new Map<string, Array<{ step: number; value: number }>>();
  for (const event of events) {
    for (const value of event.values) {
      if (value.simpleValue === undefined) continue;
      const points = scalars.get(value.tag) ?? [];
      scalars.set(value.tag, points);
      points.push({ step: event.step, value: value.simpleValue });
    }
  }
  return scalars;
}
