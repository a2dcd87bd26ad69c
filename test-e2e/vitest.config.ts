import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    globalSetup: ['../scripts/test-temp-directory.mjs'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
