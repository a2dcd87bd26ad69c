/**
 * An independent reader of TensorBoard event files, for tests: written from the format's
 * description (backends.md C.3 and C.4, the .proto files it cites), sharing no code with the
 * writer. Its CRC32C is the bitwise definition (no table), its protobuf decoder is generic (any
 * field, any wire type), and every record's two CRCs are checked. TensorBoard itself (Python,
 * PyPI) cannot be installed where these tests run; this reader stands in for it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** CRC32C bit by bit over the reflected Castagnoli polynomial (RFC 3720 B.4). */
export function referenceCrc32c(bytes: Uint8Array): number {
  let crc = ~0 >>> 0;
  for (const byte of bytes) {
    crc = (crc ^ byte) >>> 0;
    for (let bit = 0; bit < 8; bit++) crc = (crc >>> 1) ^ (0x82f63b78 & -(crc & 1));
    crc >>>= 0;
  }
  return ~crc >>> 0;
}

function masked(crc: number): number {
  const rotated = ((crc >>> 15) | (crc << 17)) >>> 0;
  return (rotated + 0xa282ead8) % 2 ** 32;
}

/** A field as it was on the wire. */
type Field =
  | { wire: 0; number: number }
  | { wire: 1; bytes: Uint8Array }
  | { wire: 2; bytes: Uint8Array }
  | { wire: 5; bytes: Uint8Array };

/** Every field of a message by number, in order. Throws on anything malformed. */
export function decodeFields(message: Uint8Array): Map<number, Field[]> {
  const fields = new Map<number, Field[]>();
  let offset = 0;
  const varint = () => {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (offset >= message.length) throw new Error('varint runs past the message');
      const byte = message[offset++]!;
      value += (byte & 0x7f) * scale;
      scale *= 128;
      if (byte < 0x80) return value;
    }
  };
  const take = (length: number) => {
    if (offset + length > message.length) throw new Error('field runs past the message');
    const bytes = message.subarray(offset, offset + length);
    offset += length;
    return bytes;
  };
  while (offset < message.length) {
    const key = varint();
    const number = Math.floor(key / 8);
    const wire = key % 8;
    let field: Field;
    if (wire === 0) field = { wire, number: varint() };
    else if (wire === 1) field = { wire, bytes: take(8) };
    else if (wire === 2) field = { wire, bytes: take(varint()) };
    else if (wire === 5) field = { wire, bytes: take(4) };
    else throw new Error(`wire type ${wire} of field ${number} is not one an event file uses`);
    const list = fields.get(number) ?? [];
    list.push(field);
    fields.set(number, list);
  }
  return fields;
}

const view = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const last = (fields: Map<number, Field[]>, number: number) => fields.get(number)?.at(-1);
const asDouble = (field: Field | undefined) =>
  field === undefined ? 0 : view((field as { bytes: Uint8Array }).bytes).getFloat64(0, true);
const asFloat = (field: Field | undefined) =>
  field === undefined ? 0 : view((field as { bytes: Uint8Array }).bytes).getFloat32(0, true);
const asVarint = (field: Field | undefined) =>
  field === undefined ? 0 : (field as { number: number }).number;
const asBytes = (field: Field | undefined) =>
  field === undefined ? new Uint8Array(0) : (field as { bytes: Uint8Array }).bytes;
const asString = (field: Field | undefined) => new TextDecoder().decode(asBytes(field));
function asPackedDoubles(field: Field | undefined): number[] {
  const bytes = asBytes(field);
  const values: number[] = [];
  for (let index = 0; index < bytes.length; index += 8) {
    values.push(view(bytes).getFloat64(index, true));
  }
  return values;
}

export interface ReadValue {
  tag: string;
  simpleValue?: number;
  image?: { height: number; width: number; colorspace: number; encoded: Uint8Array };
  histo?: {
    min: number;
    max: number;
    num: number;
    sum: number;
    sumSquares: number;
    bucketLimit: number[];
    bucket: number[];
  };
  tensor?: { dtype: number; shapeBytes: number; strings: string[] };
  pluginName?: string;
  dataClass?: number;
}

export interface ReadEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  values: ReadValue[];
}

function readValue(bytes: Uint8Array): ReadValue {
  const fields = decodeFields(bytes);
  const value: ReadValue = { tag: asString(last(fields, 1)) };
  if (fields.has(2)) value.simpleValue = asFloat(last(fields, 2));
  if (fields.has(4)) {
    const image = decodeFields(asBytes(last(fields, 4)));
    value.image = {
      height: asVarint(last(image, 1)),
      width: asVarint(last(image, 2)),
      colorspace: asVarint(last(image, 3)),
      encoded: asBytes(last(image, 4)),
    };
  }
  if (fields.has(5)) {
    const histo = decodeFields(asBytes(last(fields, 5)));
    value.histo = {
      min: asDouble(last(histo, 1)),
      max: asDouble(last(histo, 2)),
      num: asDouble(last(histo, 3)),
      sum: asDouble(last(histo, 4)),
      sumSquares: asDouble(last(histo, 5)),
      bucketLimit: asPackedDoubles(last(histo, 6)),
      bucket: asPackedDoubles(last(histo, 7)),
    };
  }
  if (fields.has(8)) {
    const tensor = decodeFields(asBytes(last(fields, 8)));
    value.tensor = {
      dtype: asVarint(last(tensor, 1)),
      shapeBytes: asBytes(last(tensor, 2)).length,
      strings: (tensor.get(8) ?? []).map((field) => asString(field)),
    };
  }
  if (fields.has(9)) {
    const metadata = decodeFields(asBytes(last(fields, 9)));
    const plugin = decodeFields(asBytes(last(metadata, 1)));
    value.pluginName = asString(last(plugin, 1));
    value.dataClass = asVarint(last(metadata, 4));
  }
  return value;
}

function readEvent(bytes: Uint8Array): ReadEvent {
  const fields = decodeFields(bytes);
  const event: ReadEvent = {
    wallTime: asDouble(last(fields, 1)),
    step: asVarint(last(fields, 2)),
    values: [],
  };
  if (fields.has(3)) event.fileVersion = asString(last(fields, 3));
  if (fields.has(5)) {
    const summary = decodeFields(asBytes(last(fields, 5)));
    event.values = (summary.get(1) ?? []).map((field) => readValue(asBytes(field)));
  }
  return event;
}

/**
 * The records of an event file, CRCs checked. A record cut off at the end (a writer caught
 * mid-write) is left out, as TensorBoard leaves it for the next read; anything else wrong throws.
 */
export function readRecords(file: Uint8Array): Uint8Array[] {
  const records: Uint8Array[] = [];
  const data = view(file);
  let offset = 0;
  while (offset < file.length) {
    if (offset + 12 > file.length) break;
    const length = data.getUint32(offset, true) + data.getUint32(offset + 4, true) * 2 ** 32;
    const lengthCrc = data.getUint32(offset + 8, true);
    if (masked(referenceCrc32c(file.subarray(offset, offset + 8))) !== lengthCrc) {
      throw new Error(`bad length CRC at byte ${offset}`);
    }
    if (offset + 12 + length + 4 > file.length) break;
    const record = file.subarray(offset + 12, offset + 12 + length);
    const dataCrc = data.getUint32(offset + 12 + length, true);
    if (masked(referenceCrc32c(record)) !== dataCrc) {
      throw new Error(`bad data CRC in the record at byte ${offset}`);
    }
    records.push(record);
    offset += 12 + length + 4;
  }
  return records;
}

export function readEventFile(path: string): ReadEvent[] {
  return readRecords(readFileSync(path)).map(readEvent);
}

/** Every event file under a log directory (names containing `tfevents`), by folder, POSIX. */
export function readLogDirectory(
  root: string,
): Map<string, { files: string[]; events: ReadEvent[] }> {
  const folders = new Map<string, { files: string[]; events: ReadEvent[] }>();
  const entries = readdirSync(root, { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    if (!entry.isFile() || !entry.name.includes('tfevents')) continue;
    const folder = relative(root, entry.parentPath).split('\\').join('/') || '.';
    const found = folders.get(folder) ?? { files: [], events: [] };
    found.files.push(entry.name);
    found.events.push(...readEventFile(join(entry.parentPath, entry.name)));
    folders.set(folder, found);
  }
  return folders;
}

/** The scalars of one folder: tag -> points, in file order. */
export function scalarsOf(
  events: readonly ReadEvent[],
): Map<string, Array<{ step: number; value: number; wallTime: number }>> {
  const scalars = new Map<string, Array<{ step: number; value: number; wallTime: number }>>();
  for (const event of events) {
    for (const value of event.values) {
      if (value.simpleValue === undefined) continue;
      const points = scalars.get(value.tag) ?? [];
      points.push({ step: event.step, value: value.simpleValue, wallTime: event.wallTime });
      scalars.set(value.tag, points);
    }
  }
  return scalars;
}
