import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  splitting: false,
  treeshake: true,
  // Never bundled: core is a dependency, and the runtime is the user's own (a peer dependency,
  // imported lazily only when a model path or bytes are given).
  external: ['@livestep/core', /^onnxruntime-/],
});
