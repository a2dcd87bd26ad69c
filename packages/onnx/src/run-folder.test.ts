import { join } from 'node:path';
import { createMemorySink } from '@livestep/core';
import { describe, expect, it } from 'vitest';
import { evaluationRunName, evaluationRunOptions } from './run-folder.js';

describe('the folder of a run evaluate() starts', () => {
  const environment = {};

  it('is <livestep or LIVESTEP_DIR>/<run name>', () => {
    expect(evaluationRunOptions({ name: 'mlp', environment }, undefined)).toMatchObject({
      name: 'mlp',
      directory: join('livestep', 'mlp'),
    });
    expect(
      evaluationRunOptions({ name: 'mlp', environment: { LIVESTEP_DIR: 'out' } }, undefined)
        .directory,
    ).toBe(join('out', 'mlp'));
  });

  it('makes the name one folder', () => {
    expect(evaluationRunOptions({ name: 'a/b:c', environment }, undefined).directory).toBe(
      join('livestep', 'a_b_c'),
    );
    expect(evaluationRunOptions({ name: '..', environment }, undefined).directory).toBe(
      join('livestep', '_'),
    );
  });

  it('leaves a directory or sinks of your own as they are', () => {
    expect(
      evaluationRunOptions({ name: 'mlp', directory: 'mine', environment }, undefined).directory,
    ).toBe('mine');
    const sinks = [createMemorySink()];
    const options = evaluationRunOptions({ name: 'mlp', sinks, environment }, undefined);
    expect(options.directory).toBeUndefined();
    expect(options.sinks).toBe(sinks);
  });

  it('names the run: the option, LIVESTEP_RUN_NAME, the model file, else eval-<hex>', () => {
    expect(evaluationRunName({ name: 'given', environment }, 'models/iris-mlp.onnx')).toBe('given');
    expect(
      evaluationRunName({ environment: { LIVESTEP_RUN_NAME: 'from-env' } }, 'models/x.onnx'),
    ).toBe('from-env');
    expect(evaluationRunName({ environment }, 'models/iris-mlp.onnx')).toBe('iris-mlp');
    expect(evaluationRunName({ environment }, undefined)).toMatch(/^eval-[0-9a-f]{8}$/);
  });
});
