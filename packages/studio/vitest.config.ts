import { fileURLToPath } from 'node:url';
import { vitestConfig } from '../../vitest.base.js';

export default vitestConfig({
  resolve: {
    // The fake Studio (@livestep/test-support/studio) checks bodies with this source's validator.
    alias: [
      {
        find: /^@livestep\/studio$/,
        replacement: fileURLToPath(new URL('./src/index.ts', import.meta.url)),
      },
    ],
  },
});
