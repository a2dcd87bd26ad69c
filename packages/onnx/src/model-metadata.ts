/**
 * What a run records about the evaluated model: its inputs and outputs (from the session), its
 * header (IR version, producer, opsets, operators, from the model's bytes) and, for a file, its
 * size and SHA-256.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import type { InferenceSession } from 'onnxruntime-common';
import { createMemoryByteSource, openFileByteSource } from './byte-source.js';
import { readModelProto } from './model-proto.js';

/** A session as far as its metadata goes; `inputMetadata`/`outputMetadata` arrived in onnxruntime 1.20. */
type SessionDescription = Pick<InferenceSession, 'inputNames' | 'outputNames'> &
  Partial<Pick<InferenceSession, 'inputMetadata' | 'outputMetadata'>>;

export interface ModelMetadataResult {
  /** Plain params: `{ path, fileName, sizeBytes, sha256, irVersion, producer, opsets, graph, inputs, outputs, ... }`. */
  metadata: Record<string, unknown>;
  /** What could not be read, in words (the evaluation goes on without it). */
  problems: string[];
  /**
   * How the model file differs from the session, when its graph has other outputs or lacks one
   * of the session's inputs: then it is not the session's model, and its header, size and hash
   * describe something else.
   */
  mismatch?: string;
}

/**
 * Describes the model behind `session`. `model` is the file path or bytes it was created from;
 * without it only the inputs and outputs are known.
 */
export async function collectModelMetadata(
  session: SessionDescription,
  model?: string | Uint8Array,
): Promise<ModelMetadataResult> {
  const metadata: Record<string, unknown> = {};
  const problems: string[] = [];
  let mismatch: string | undefined;
  if (typeof model === 'string') {
    metadata.path = model;
    metadata.fileName = basename(model);
  }
  if (model !== undefined) {
    try {
      Object.assign(metadata, await sizeAndHash(model));
    } catch (error) {
      problems.push(`cannot read ${describeModel(model)} (${errorText(error)})`);
    }
    try {
      const { header, graphInputs, graphOutputs } = await readHeader(model);
      Object.assign(metadata, header);
      mismatch = describeMismatch(session, graphInputs, graphOutputs);
    } catch (error) {
      problems.push(`cannot read the ONNX header of ${describeModel(model)} (${errorText(error)})`);
    }
  }
  Object.assign(metadata, describeSessionValues(session));
  return mismatch === undefined ? { metadata, problems } : { metadata, problems, mismatch };
}

/** Why a graph with these inputs and outputs is not the session's, or undefined when it may be. */
function describeMismatch(
  session: SessionDescription,
  graphInputs: readonly string[],
  graphOutputs: readonly string[],
): string | undefined {
  const sameOutputs =
    graphOutputs.length === session.outputNames.length &&
    session.outputNames.every((name) => graphOutputs.includes(name));
  // Before IR version 4 a graph lists its initializers as inputs too: the session's are a subset.
  const hasInputs = session.inputNames.every((name) => graphInputs.includes(name));
  if (sameOutputs && hasInputs) return undefined;
  const list = (names: readonly string[]) => names.join(', ') || '(none)';
  return `its graph's inputs are ${list(graphInputs)} and outputs ${list(graphOutputs)}; the session's inputs are ${list(session.inputNames)} and outputs ${list(session.outputNames)}`;
}

/** The session's inputs and outputs: `{ inputs: { features: { type, shape } }, outputs: { ... } }`. */
export function describeSessionValues(session: SessionDescription): {
  inputs: Record<string, Record<string, unknown>>;
  outputs: Record<string, Record<string, unknown>>;
} {
  return {
    inputs: describeValues(session.inputNames, session.inputMetadata),
    outputs: describeValues(session.outputNames, session.outputMetadata),
  };
}

async function sizeAndHash(
  model: string | Uint8Array,
): Promise<{ sizeBytes: number; sha256: string }> {
  const hash = createHash('sha256');
  if (typeof model !== 'string') {
    hash.update(model);
    return { sizeBytes: model.byteLength, sha256: hash.digest('hex') };
  }
  let sizeBytes = 0;
  for await (const chunk of createReadStream(model)) {
    hash.update(chunk as Buffer);
    sizeBytes += (chunk as Buffer).length;
  }
  return { sizeBytes, sha256: hash.digest('hex') };
}

async function readHeader(model: string | Uint8Array): Promise<{
  header: Record<string, unknown>;
  graphInputs: string[];
  graphOutputs: string[];
}> {
  const source =
    typeof model === 'string' ? await openFileByteSource(model) : createMemoryByteSource(model);
  try {
    const proto = await readModelProto(source);
    const header: Record<string, unknown> = {};
    if (proto.irVersion !== undefined) header.irVersion = proto.irVersion;
    if (proto.producerName !== undefined || proto.producerVersion !== undefined) {
      header.producer = { name: proto.producerName ?? '', version: proto.producerVersion ?? '' };
    }
    if (proto.domain) header.domain = proto.domain;
    if (proto.modelVersion !== undefined) header.modelVersion = proto.modelVersion;
    header.opsets = proto.opsets;
    header.graph = {
      ...(proto.graphName !== undefined && { name: proto.graphName }),
      nodes: proto.nodeCount,
      operators: proto.operators,
    };
    if (Object.keys(proto.metadata).length > 0) header.metadata = proto.metadata;
    return { header, graphInputs: proto.graphInputs, graphOutputs: proto.graphOutputs };
  } finally {
    await source.close();
  }
}

/** `{ features: { type: 'float32', shape: ['batch', 4] } }`; symbolic dimensions stay names. */
function describeValues(
  names: readonly string[],
  metadata: readonly InferenceSession.ValueMetadata[] | undefined,
): Record<string, Record<string, unknown>> {
  const described: Record<string, Record<string, unknown>> = {};
  for (const name of names) described[name] = {};
  const values: readonly InferenceSession.ValueMetadata[] = Array.isArray(metadata) ? metadata : [];
  for (const value of values) {
    if (typeof value?.name !== 'string') continue;
    described[value.name] = value.isTensor
      ? { type: String(value.type), shape: [...value.shape] }
      : { type: 'non-tensor' };
  }
  return described;
}

function describeModel(model: string | Uint8Array): string {
  return typeof model === 'string' ? model : `the model bytes (${model.byteLength} bytes)`;
}

function errorText(error: unknown): string {
  return (error as NodeJS.ErrnoException)?.code ?? (error as Error)?.message ?? String(error);
}

/** The metadata_props key whose value names a classifier's classes, by index. */
export const CLASS_NAMES_METADATA_KEY = 'class_names';

/**
 * The class names a model's metadata gives (`class_names`): a JSON array (`["setosa", ...]`), a
 * JSON object by index (`{"0": "setosa", ...}`), or a comma-separated list
 * (`setosa,versicolor,virginica`). `problem` says why a value that is there cannot be used.
 */
export function classNamesFromMetadata(metadata: unknown): {
  labels?: string[];
  problem?: string;
} {
  const value = (metadata as Record<string, unknown> | undefined)?.[CLASS_NAMES_METADATA_KEY];
  if (typeof value !== 'string') return {};
  let labels: string[] | undefined;
  const text = value.trim();
  if (text.startsWith('[') || text.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(text);
      const entries = Array.isArray(parsed)
        ? parsed
        : Object.entries(parsed as Record<string, unknown>)
            .sort(([left], [right]) => Number(left) - Number(right))
            .map(([, name]) => name);
      if (entries.every((name) => typeof name === 'string' || typeof name === 'number')) {
        labels = entries.map(String);
      }
    } catch {
      labels = undefined;
    }
  } else {
    labels = text.split(',').map((name) => name.trim());
  }
  if (labels === undefined || labels.length === 0 || labels.some((name) => name === '')) {
    return {
      problem: `the model's metadata "${CLASS_NAMES_METADATA_KEY}" (${JSON.stringify(value.slice(0, 80))}) is not a list of class names`,
    };
  }
  if (new Set(labels).size !== labels.length) {
    return {
      problem: `the model's metadata "${CLASS_NAMES_METADATA_KEY}" names a class twice (${labels.join(', ')})`,
    };
  }
  return { labels };
}
