/**
 * The onnxruntime module, loaded only when a model is given as a path or bytes. The package needs
 * no runtime to evaluate a session the caller created, so any runtime that implements
 * onnxruntime-common's InferenceSession works, and onnxruntime-node stays an optional peer.
 */
import type { InferenceSession } from 'onnxruntime-common';

/** What livestep uses of an onnxruntime module (onnxruntime-node, or a compatible one). */
export interface OnnxRuntimeModule {
  InferenceSession: {
    create(
      model: string | Uint8Array,
      options?: InferenceSession.SessionOptions,
    ): Promise<InferenceSession>;
  };
  env?: { versions?: Record<string, string | undefined> };
}

/** Error codes Node gives when a package is not installed. */
const MODULE_NOT_FOUND_CODES = new Set(['ERR_MODULE_NOT_FOUND', 'MODULE_NOT_FOUND']);

/**
 * Imports onnxruntime-node. `what` names what the caller passed (`a model path`, `model bytes`)
 * so the error says why a runtime was needed.
 */
export async function loadOnnxRuntime(
  what: string,
  importRuntime: () => Promise<unknown> = () => import('onnxruntime-node'),
): Promise<OnnxRuntimeModule> {
  let imported: unknown;
  try {
    imported = await importRuntime();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (code !== undefined && MODULE_NOT_FOUND_CODES.has(code)) {
      throw new Error(
        `livestep: evaluate() got ${what}; install onnxruntime-node or pass an InferenceSession`,
        { cause: error },
      );
    }
    throw new Error(
      `livestep: evaluate() got ${what}, but onnxruntime-node failed to load (${(error as Error)?.message ?? error}); check its installation or pass an InferenceSession`,
      { cause: error },
    );
  }
  // An ES module import of a CommonJS package puts its exports on `default` too.
  const module = imported as OnnxRuntimeModule & { default?: OnnxRuntimeModule };
  const runtime = module.InferenceSession === undefined ? module.default : module;
  if (typeof runtime?.InferenceSession?.create !== 'function') {
    throw new Error(
      `livestep: evaluate() got ${what}, but the onnxruntime module has no InferenceSession.create; pass an InferenceSession instead`,
    );
  }
  return runtime;
}

/**
 * The versions of the onnxruntime packages in use (`{ common: '1.30.0', node: '1.30.0' }`), from
 * the given module's `env.versions`, else from onnxruntime-common's; empty when neither is found.
 */
export async function readRuntimeVersions(
  runtime?: OnnxRuntimeModule,
  importCommon: () => Promise<unknown> = () => import('onnxruntime-common'),
): Promise<Record<string, string>> {
  let versions = runtime?.env?.versions;
  if (versions === undefined) {
    const common = (await importCommon().catch(() => undefined)) as
      | (OnnxRuntimeModule & { default?: OnnxRuntimeModule })
      | undefined;
    versions = common?.env?.versions ?? common?.default?.env?.versions;
  }
  const result: Record<string, string> = {};
  for (const [name, version] of Object.entries(versions ?? {})) {
    if (typeof version === 'string') result[name] = version;
  }
  return result;
}
