import { describe, expect, it } from 'vitest';
import { classNamesFromMetadata, collectModelMetadata } from './model-metadata.js';
import { identityModel } from './test-support/onnx-model-builder.js';

describe('collectModelMetadata', () => {
  const session = { inputNames: ['input'], outputNames: ['scores'] };

  it('lists inputs and outputs by name when the runtime has no value metadata (before 1.20)', async () => {
    expect(await collectModelMetadata(session)).toEqual({
      metadata: { inputs: { input: {} }, outputs: { scores: {} } },
      problems: [],
    });
  });

  it('describes model bytes: size, hash and header', async () => {
    const { metadata } = await collectModelMetadata(session, identityModel());
    expect(metadata).toMatchObject({ irVersion: 8, opsets: { 'ai.onnx': 13 } });
    expect(metadata.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('reports what it cannot read and goes on', async () => {
    const missing = await collectModelMetadata(session, '/no/such/model.onnx');
    expect(missing.metadata).toMatchObject({ path: '/no/such/model.onnx', fileName: 'model.onnx' });
    expect(missing.problems).toEqual([
      'cannot read /no/such/model.onnx (ENOENT)',
      'cannot read the ONNX header of /no/such/model.onnx (ENOENT)',
    ]);
    const garbage = await collectModelMetadata(session, new TextEncoder().encode('{"json": true}'));
    expect(garbage.problems[0]).toMatch(
      /^cannot read the ONNX header of the model bytes \(14 bytes\)/,
    );
  });
});

describe('classNamesFromMetadata', () => {
  it('reads class_names as a comma-separated list, a JSON array or a JSON object by index', () => {
    expect(classNamesFromMetadata({ class_names: 'setosa, versicolor,virginica' })).toEqual({
      labels: ['setosa', 'versicolor', 'virginica'],
    });
    expect(classNamesFromMetadata({ class_names: '["cat", "dog"]' })).toEqual({
      labels: ['cat', 'dog'],
    });
    expect(classNamesFromMetadata({ class_names: '{"1": "dog", "0": "cat"}' })).toEqual({
      labels: ['cat', 'dog'],
    });
    expect(classNamesFromMetadata({ other: 'x' })).toEqual({});
    expect(classNamesFromMetadata(undefined)).toEqual({});
  });

  it('says why a value cannot be used', () => {
    expect(classNamesFromMetadata({ class_names: 'a,,b' }).problem).toMatch(
      /is not a list of class names/,
    );
    expect(classNamesFromMetadata({ class_names: '[1, {"x": 2}]' }).problem).toMatch(
      /is not a list of class names/,
    );
    expect(classNamesFromMetadata({ class_names: 'a,b,a' }).problem).toMatch(/names a class twice/);
  });
});
