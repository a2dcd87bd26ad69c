import { vitestConfig } from '../vitest.base.js';

export default vitestConfig({
  // Whole programs, installs and a registry: minutes, not seconds.
  test: { testTimeout: 120_000, hookTimeout: 120_000 },
});
