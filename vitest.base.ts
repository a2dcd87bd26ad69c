/**
 * The tests every package shares: src/**\/*.test.ts, with one temporary folder per test run
 * (scripts/test-temp-directory.mjs) and 30 s a test. A package's vitest.config.ts passes only
 * what is its own (longer timeouts, source aliases).
 */
import { fileURLToPath } from 'node:url';
import { defineConfig, mergeConfig, type ViteUserConfig } from 'vitest/config';

export const VITEST_BASE = defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    globalSetup: [fileURLToPath(new URL('./scripts/test-temp-directory.mjs', import.meta.url))],
    testTimeout: 30_000,
  },
});

/** The shared test configuration with `config` merged over it. */
export function vitestConfig(config: ViteUserConfig = {}) {
  return mergeConfig(VITEST_BASE, config);
}

/**
 * Aliases that send exactly these import specifiers to files of the package (paths relative to
 * `configUrl`, its vitest.config.ts's `import.meta.url`): a package's own tests, and the shared
 * test helpers they use, then get its source rather than its build.
 */
export function sourceAliases(configUrl: string, entries: Record<string, string>) {
  return Object.entries(entries).map(([specifier, path]) => ({
    find: new RegExp(`^${specifier.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`),
    replacement: fileURLToPath(new URL(path, configUrl)),
  }));
}
