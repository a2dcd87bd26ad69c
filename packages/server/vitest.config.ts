import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    globalSetup: ['../../scripts/test-temp-directory.mjs'],
    testTimeout: 30_000,
  },
});
