import { fileURLToPath } from 'node:url';
import { vitestConfig } from '../../vitest.base.js';

export default vitestConfig({
  resolve: {
    // Core's tests test its source: the shared test helpers (@livestep/test-support) get this
    // source too, not the build, so there is one Run class.
    alias: [
      {
        find: /^@livestep\/core$/,
        replacement: fileURLToPath(new URL('./src/index.ts', import.meta.url)),
      },
      {
        find: /^@livestep\/core\/protocol$/,
        replacement: fileURLToPath(new URL('./src/protocol/index.ts', import.meta.url)),
      },
      {
        find: /^@livestep\/core\/sink-kit$/,
        replacement: fileURLToPath(new URL('./src/sink-kit.ts', import.meta.url)),
      },
    ],
  },
});
