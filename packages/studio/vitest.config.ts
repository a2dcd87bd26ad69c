import { sourceAliases, vitestConfig } from '../../vitest.base.js';

export default vitestConfig({
  resolve: {
    // The fake Studio (@livestep/test-support/studio) checks bodies with this source's validator.
    alias: sourceAliases(import.meta.url, { '@livestep/studio': './src/index.ts' }),
  },
});
