/**
 * The build every published package shares: ES module and CommonJS bundles of src/index.ts for
 * Node 20, with declarations and source maps. A package's tsup.config.ts passes only what is its
 * own (entries, externals, shims, defines).
 */
import { defineConfig, type Options } from 'tsup';

export const TSUP_BASE = {
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  splitting: false,
  treeshake: true,
} satisfies Options;

/** The shared build with `options` over it. */
export function tsupConfig(options: Options = {}) {
  return defineConfig({ ...TSUP_BASE, ...options });
}
