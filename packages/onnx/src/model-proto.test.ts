import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createMemoryByteSource, openFileByteSource } from './byte-source.js';
import { readModelProto } from './model-proto.js';
import { buildModel, denseSoftmaxModel } from './test-support/onnx-model-builder.js';

const folder = await mkdtemp(join(tmpdir(), 'livestep-onnx-proto-'));
afterAll(() => rm(folder, { recursive: true, force: true }));

describe('readModelProto', () => {
  it('reads IR version, producer, opsets of every domain, graph name, operators and metadata', async () => {
    const bytes = buildModel({
      irVersion: 7,
      producerName: 'exporter',
      producerVersion: '2.1',
      opsets: { '': 13, 'com.microsoft': 1 },
      graphName: 'classifier',
      metadata: { author: 'me', classes: 'a,b' },
      inputs: [{ name: 'x', shape: ['batch', 2] }],
      outputs: [{ name: 'y', shape: ['batch', 2] }],
      nodes: [
        { opType: 'Relu', inputs: ['x'], outputs: ['r'] },
        { opType: 'Relu', inputs: ['r'], outputs: ['s'] },
        { opType: 'FusedGemm', inputs: ['s'], outputs: ['y'], domain: 'com.microsoft' },
      ],
    });
    expect(await readModelProto(createMemoryByteSource(bytes))).toEqual({
      irVersion: 7,
      producerName: 'exporter',
      producerVersion: '2.1',
      opsets: { 'ai.onnx': 13, 'com.microsoft': 1 },
      graphName: 'classifier',
      nodeCount: 3,
      operators: { Relu: 2, 'com.microsoft.FusedGemm': 1 },
      metadata: { author: 'me', classes: 'a,b' },
      graphInputs: ['x'],
      graphOutputs: ['y'],
    });
  });

  it('reads a file whose weights span many read chunks, skipping them', async () => {
    // 200 x 200 float weights = 160 kB: the opsets come after the graph, past several chunks.
    const size = 200;
    const kernel = Array.from({ length: size }, (_, row) =>
      Array.from({ length: size }, (_, column) => (row === column ? 1 : 0.001)),
    );
    const bytes = denseSoftmaxModel(kernel, new Array(size).fill(0));
    expect(bytes.length).toBeGreaterThan(150_000);
    const path = join(folder, 'large.onnx');
    await writeFile(path, bytes);
    const source = await openFileByteSource(path);
    try {
      const summary = await readModelProto(source);
      expect(summary.opsets).toEqual({ 'ai.onnx': 13 });
      expect(summary.operators).toEqual({ Gemm: 1, Softmax: 1 });
      expect(summary.irVersion).toBe(8);
    } finally {
      await source.close();
    }
  });

  it('refuses bytes that are not a protobuf message', async () => {
    await expect(
      readModelProto(createMemoryByteSource(new TextEncoder().encode('not a model at all'))),
    ).rejects.toThrow();
  });
});
