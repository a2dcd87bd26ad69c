/**
 * The TensorBoard messages livestep writes, encoded field by field as the protos define them
 * (tensorflow/tensorboard `tensorboard/compat/proto/{event,summary,histogram,tensor}.proto`):
 *
 *   Event          wall_time double = 1, step int64 = 2, file_version string = 3, summary = 5
 *   Summary        repeated Value value = 1
 *   Summary.Value  tag = 1, simple_value float = 2, image = 4, histo = 5, tensor = 8, metadata = 9
 *   Summary.Image  height int32 = 1, width int32 = 2, colorspace int32 = 3, encoded_image_string = 4
 *   HistogramProto min = 1, max = 2, num = 3, sum = 4, sum_squares = 5 (doubles),
 *                  bucket_limit = 6, bucket = 7 (packed doubles)
 *   TensorProto    dtype = 1, tensor_shape = 2, string_val = 8 (repeated bytes)
 *   SummaryMetadata plugin_data = 1 (PluginData: plugin_name = 1, content = 2), data_class = 4
 *
 * Proto3 leaves out fields at their default value (a step of 0), except the members of a oneof:
 * `simple_value` 0 is written, or the value would have no value at all.
 */
import { ProtoWriter } from './proto-writer.js';

/** `file_version` of the first record: events_writer.h's kVersionPrefix plus kCurrentVersion. */
export const FILE_VERSION = 'brain.Event:2';

/** TensorFlow's DataType DT_STRING (types.proto). */
const DT_STRING = 7;
/** DataClass DATA_CLASS_TENSOR (summary.proto): what the text plugin's summaries declare. */
const DATA_CLASS_TENSOR = 2;
/** The text plugin's name (tensorboard/plugins/text/metadata.py). */
export const TEXT_PLUGIN_NAME = 'text';

export interface ImageValue {
  height: number;
  width: number;
  /** 1 grayscale, 2 grayscale + alpha, 3 RGB, 4 RGBA (summary.proto). */
  colorspace: number;
  encoded: Uint8Array;
}

export interface HistogramValue {
  min: number;
  max: number;
  num: number;
  sum: number;
  sumSquares: number;
  /** Each bucket's upper edge. */
  bucketLimit: number[];
  /** Each bucket's count. */
  bucket: number[];
}

/** One Summary.Value: a scalar, an image, a histogram or a text. */
export type SummaryValue =
  | { tag: string; kind: 'scalar'; value: number }
  | { tag: string; kind: 'image'; image: ImageValue }
  | { tag: string; kind: 'histogram'; histogram: HistogramValue }
  | { tag: string; kind: 'text'; text: string };

function encodeImage(image: ImageValue): Uint8Array {
  const writer = new ProtoWriter(image.encoded.length + 32);
  if (image.height > 0) writer.uint(1, image.height);
  if (image.width > 0) writer.uint(2, image.width);
  if (image.colorspace > 0) writer.uint(3, image.colorspace);
  return writer.bytes(4, image.encoded).finish();
}

function encodeHistogram(histogram: HistogramValue): Uint8Array {
  return new ProtoWriter(64 + histogram.bucket.length * 16)
    .double(1, histogram.min)
    .double(2, histogram.max)
    .double(3, histogram.num)
    .double(4, histogram.sum)
    .double(5, histogram.sumSquares)
    .packedDoubles(6, histogram.bucketLimit)
    .packedDoubles(7, histogram.bucket)
    .finish();
}

/** A rank-0 DT_STRING tensor (an empty TensorShapeProto) holding the text, UTF-8. */
function encodeTextTensor(text: string): Uint8Array {
  return new ProtoWriter().uint(1, DT_STRING).bytes(2, new Uint8Array(0)).string(8, text).finish();
}

const TEXT_METADATA = new ProtoWriter()
  .bytes(1, new ProtoWriter().string(1, TEXT_PLUGIN_NAME).finish())
  .uint(4, DATA_CLASS_TENSOR)
  .finish();

function encodeValue(value: SummaryValue): Uint8Array {
  const writer = new ProtoWriter().string(1, value.tag);
  switch (value.kind) {
    case 'scalar':
      return writer.float(2, value.value).finish();
    case 'image':
      return writer.bytes(4, encodeImage(value.image)).finish();
    case 'histogram':
      return writer.bytes(5, encodeHistogram(value.histogram)).finish();
    case 'text':
      return writer.bytes(8, encodeTextTensor(value.text)).bytes(9, TEXT_METADATA).finish();
  }
}

/** An Event holding one Summary with one value, at a step and a wall time (epoch seconds). */
export function encodeSummaryEvent(
  wallTime: number,
  step: number,
  value: SummaryValue,
): Uint8Array {
  const summary = new ProtoWriter().bytes(1, encodeValue(value)).finish();
  const writer = new ProtoWriter(summary.length + 24).double(1, wallTime);
  if (step !== 0) writer.uint(2, step);
  return writer.bytes(5, summary).finish();
}

const textEncoder = new TextEncoder();

/** Bytes a varint of `value` takes (value < 2^53). */
function varintLength(value: number): number {
  let bytes = 1;
  for (let rest = value; rest >= 0x80; rest = Math.floor(rest / 0x80)) bytes++;
  return bytes;
}

function putVarint(out: Uint8Array, offset: number, value: number): number {
  let at = offset;
  let rest = value;
  while (rest >= 0x80) {
    out[at++] = (rest % 0x80) | 0x80;
    rest = Math.floor(rest / 0x80);
  }
  out[at++] = rest;
  return at;
}

/** A tag's UTF-8 bytes, to encode once per tag rather than once per point. */
export function encodeTag(tag: string): Uint8Array {
  return textEncoder.encode(tag);
}

/**
 * The Event of one scalar, the same bytes as encodeSummaryEvent gives for a `scalar` value, in
 * one allocation: the path every metric point takes (a third of the time of the general one).
 */
export function encodeScalarEvent(
  wallTime: number,
  step: number,
  tag: Uint8Array,
  value: number,
): Uint8Array {
  // Value: tag (key 0x0a, length, bytes), simple_value (key 0x15, float32).
  const valueLength = 1 + varintLength(tag.length) + tag.length + 5;
  // Summary: value (key 0x0a, length, Value).
  const summaryLength = 1 + varintLength(valueLength) + valueLength;
  const stepLength = step === 0 ? 0 : 1 + varintLength(step);
  const out = new Uint8Array(9 + stepLength + 1 + varintLength(summaryLength) + summaryLength);
  const view = new DataView(out.buffer);
  out[0] = 0x09; // wall_time, field 1, fixed64
  view.setFloat64(1, wallTime, true);
  let at = 9;
  if (step !== 0) {
    out[at++] = 0x10; // step, field 2, varint
    at = putVarint(out, at, step);
  }
  out[at++] = 0x2a; // summary, field 5, length-delimited
  at = putVarint(out, at, summaryLength);
  out[at++] = 0x0a; // Summary.value, field 1
  at = putVarint(out, at, valueLength);
  out[at++] = 0x0a; // Value.tag, field 1
  at = putVarint(out, at, tag.length);
  out.set(tag, at);
  at += tag.length;
  out[at++] = 0x15; // Value.simple_value, field 2, fixed32
  view.setFloat32(at, value, true);
  return out;
}

/** The first Event of every file: its creation time and `file_version`. */
export function encodeFileVersionEvent(wallTime: number): Uint8Array {
  return new ProtoWriter().double(1, wallTime).string(3, FILE_VERSION).finish();
}
