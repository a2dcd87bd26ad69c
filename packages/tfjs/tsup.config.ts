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
  // tfjs must stay one copy (callbacks are checked with instanceof) and core is a dependency.
  external: [/^@tensorflow\//, /^@livestep\/core$/],
});
