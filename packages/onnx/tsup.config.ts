import { tsupConfig } from '../../tsup.base.js';

export default tsupConfig({
  // Never bundled: core is a dependency, and the runtime is the user's own (a peer dependency,
  // imported lazily only when a model path or bytes are given).
  external: ['@livestep/core', /^onnxruntime-/],
});
