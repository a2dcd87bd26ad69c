import { describe, expect, it } from 'vitest';
import { loadOnnxRuntime, readRuntimeVersions } from './onnx-runtime.js';

function notFound(): Promise<never> {
  const error = new Error("Cannot find package 'onnxruntime-node'") as NodeJS.ErrnoException;
  error.code = 'ERR_MODULE_NOT_FOUND';
  return Promise.reject(error);
}

describe('loadOnnxRuntime', () => {
  it('loads onnxruntime-node by default', async () => {
    const runtime = await loadOnnxRuntime('a model path');
    expect(typeof runtime.InferenceSession.create).toBe('function');
  });

  it('says what to install when onnxruntime-node is missing', async () => {
    await expect(loadOnnxRuntime('a model path', notFound)).rejects.toThrow(
      'livestep: evaluate() got a model path; install onnxruntime-node or pass an InferenceSession',
    );
  });

  it('reports other load failures with their reason', async () => {
    await expect(
      loadOnnxRuntime('model bytes', () =>
        Promise.reject(new Error('libonnxruntime.so.1: cannot open')),
      ),
    ).rejects.toThrow(/got model bytes, but onnxruntime-node failed to load \(libonnxruntime/);
    await expect(loadOnnxRuntime('a model path', async () => ({}))).rejects.toThrow(
      /has no InferenceSession.create/,
    );
  });

  it('accepts a module whose exports sit on default', async () => {
    const create = async () => ({}) as never;
    const runtime = await loadOnnxRuntime('a model path', async () => ({
      default: { InferenceSession: { create } },
    }));
    expect(runtime.InferenceSession.create).toBe(create);
  });
});

describe('readRuntimeVersions', () => {
  it('reads env.versions of the module, else of onnxruntime-common', async () => {
    expect(
      await readRuntimeVersions({
        InferenceSession: { create: async () => ({}) as never },
        env: { versions: { common: '1.2.3', web: '1.2.3', node: undefined } },
      }),
    ).toEqual({ common: '1.2.3', web: '1.2.3' });
    expect((await readRuntimeVersions()).common).toBe('1.30.0');
    expect(await readRuntimeVersions(undefined, notFound)).toEqual({});
  });
});
