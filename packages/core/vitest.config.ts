import { sourceAliases, vitestConfig } from '../../vitest.base.js';

export default vitestConfig({
  resolve: {
    // Core's tests test its source: the shared test helpers (@livestep/test-support) get this
    // source too, not the build, so there is one Run class.
    alias: sourceAliases(import.meta.url, {
      '@livestep/core': './src/index.ts',
      '@livestep/core/protocol': './src/protocol/index.ts',
      '@livestep/core/sink-kit': './src/sink-kit.ts',
    }),
  },
});
