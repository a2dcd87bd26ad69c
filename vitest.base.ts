/**
 * The tests every package shares: src/**\/*.test.ts, with one temporary folder per test run
 * (scripts/test-temp-directory.mjs) and 30 s a test. A package's vitest.config.ts passes only
 * what is its own (longer timeouts, aliases).
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
