import { tsupConfig } from '../../tsup.base.js';

export default tsupConfig({
  // tfjs must stay one copy (callbacks are checked with instanceof) and core is a dependency.
  external: [/^@tensorflow\//, /^@livestep\/core$/],
});
