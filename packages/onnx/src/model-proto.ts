/**
 * The header of an ONNX model (ModelProto) read straight from its bytes: IR version, producer,
 * opsets, graph name, operators and metadata. The session does not expose these, and reading
 * them needs no protobuf library: a few field numbers of onnx.proto are enough, and the weights
 * are skipped by their length, never loaded.
 * https://github.com/onnx/onnx/blob/main/onnx/onnx.proto
 */
import type { ByteSource } from './byte-source.js';
import { type ProtobufField, readFields, readString, WIRE_TYPE } from './protobuf-fields.js';

/** Field numbers of ModelProto in onnx.proto. */
const MODEL = {
  irVersion: 1,
  producerName: 2,
  producerVersion: 3,
  domain: 4,
  modelVersion: 5,
  graph: 7,
  opsetImport: 8,
  metadataProps: 14,
} as const;
/** Field numbers of GraphProto. */
const GRAPH = { node: 1, name: 2, input: 11, output: 12 } as const;
/** Field numbers of ValueInfoProto. */
const VALUE_INFO = { name: 1 } as const;
/** Field numbers of NodeProto. */
const NODE = { opType: 4, domain: 7 } as const;
/** Field numbers of OperatorSetIdProto. */
const OPSET = { domain: 1, version: 2 } as const;
/** Field numbers of StringStringEntryProto. */
const ENTRY = { key: 1, value: 2 } as const;

/** The name ONNX gives the default operator set, whose domain is stored as "". */
export const DEFAULT_OPSET_DOMAIN = 'ai.onnx';

export interface ModelProtoSummary {
  irVersion?: number;
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: number;
  /** Operator set versions by domain (`ai.onnx` for the default domain). */
  opsets: Record<string, number>;
  graphName?: string;
  nodeCount: number;
  /** How many nodes use each operator; operators of other domains are `domain.OpType`. */
  operators: Record<string, number>;
  /** The model's metadata_props. */
  metadata: Record<string, string>;
  /** The graph's inputs by name (before IR version 4, its initializers are listed too). */
  graphInputs: string[];
  /** The graph's outputs by name. */
  graphOutputs: string[];
}

/** Reads the header fields of the ModelProto that fills `source`. */
export async function readModelProto(source: ByteSource): Promise<ModelProtoSummary> {
  const summary: ModelProtoSummary = {
    opsets: {},
    nodeCount: 0,
    operators: {},
    metadata: {},
    graphInputs: [],
    graphOutputs: [],
  };
  for await (const field of readFields(source, 0, source.size)) {
    const isText = field.wireType === WIRE_TYPE.lengthDelimited;
    const isNumber = field.wireType === WIRE_TYPE.varint;
    switch (field.number) {
      case MODEL.irVersion:
        if (isNumber) summary.irVersion = field.value;
        break;
      case MODEL.producerName:
        if (isText) summary.producerName = await readString(source, field);
        break;
      case MODEL.producerVersion:
        if (isText) summary.producerVersion = await readString(source, field);
        break;
      case MODEL.domain:
        if (isText) summary.domain = await readString(source, field);
        break;
      case MODEL.modelVersion:
        if (isNumber) summary.modelVersion = field.value;
        break;
      case MODEL.graph:
        if (isText) await readGraph(source, field, summary);
        break;
      case MODEL.opsetImport:
        if (isText) {
          const opset = await readOpset(source, field);
          summary.opsets[opset.domain] = opset.version;
        }
        break;
      case MODEL.metadataProps:
        if (isText) {
          const entry = await readEntry(source, field);
          summary.metadata[entry.key] = entry.value;
        }
        break;
    }
  }
  return summary;
}

async function readGraph(
  source: ByteSource,
  graph: ProtobufField,
  summary: ModelProtoSummary,
): Promise<void> {
  for await (const field of readFields(source, graph.start, graph.start + graph.length)) {
    if (field.wireType !== WIRE_TYPE.lengthDelimited) continue;
    if (field.number === GRAPH.name) summary.graphName = await readString(source, field);
    else if (field.number === GRAPH.node) {
      summary.nodeCount++;
      const operator = await readOperator(source, field);
      summary.operators[operator] = (summary.operators[operator] ?? 0) + 1;
    } else if (field.number === GRAPH.input) {
      summary.graphInputs.push(await readValueName(source, field));
    } else if (field.number === GRAPH.output) {
      summary.graphOutputs.push(await readValueName(source, field));
    }
  }
}

async function readValueName(source: ByteSource, value: ProtobufField): Promise<string> {
  for await (const field of readFields(source, value.start, value.start + value.length)) {
    if (field.number === VALUE_INFO.name && field.wireType === WIRE_TYPE.lengthDelimited) {
      return readString(source, field);
    }
  }
  return '';
}

async function readOperator(source: ByteSource, node: ProtobufField): Promise<string> {
  let opType = '';
  let domain = '';
  for await (const field of readFields(source, node.start, node.start + node.length)) {
    if (field.wireType !== WIRE_TYPE.lengthDelimited) continue;
    if (field.number === NODE.opType) opType = await readString(source, field);
    else if (field.number === NODE.domain) domain = await readString(source, field);
  }
  return domain === '' || domain === DEFAULT_OPSET_DOMAIN ? opType : `${domain}.${opType}`;
}

async function readOpset(
  source: ByteSource,
  opset: ProtobufField,
): Promise<{ domain: string; version: number }> {
  let domain = '';
  let version = 0;
  for await (const field of readFields(source, opset.start, opset.start + opset.length)) {
    if (field.number === OPSET.domain && field.wireType === WIRE_TYPE.lengthDelimited) {
      domain = await readString(source, field);
    } else if (field.number === OPSET.version && field.wireType === WIRE_TYPE.varint) {
      version = field.value;
    }
  }
  return { domain: domain === '' ? DEFAULT_OPSET_DOMAIN : domain, version };
}

async function readEntry(
  source: ByteSource,
  entry: ProtobufField,
): Promise<{ key: string; value: string }> {
  let key = '';
  let value = '';
  for await (const field of readFields(source, entry.start, entry.start + entry.length)) {
    if (field.wireType !== WIRE_TYPE.lengthDelimited) continue;
    if (field.number === ENTRY.key) key = await readString(source, field);
    else if (field.number === ENTRY.value) value = await readString(source, field);
  }
  return { key, value };
}
