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
  // Never bundled: core is a dependency (one copy per app, so exit hooks and names are shared),
  // and cli-progress is a dependency the user's package manager deduplicates and updates.
  external: ['@livestep/core', 'cli-progress'],
});
