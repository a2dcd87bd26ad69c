import { tsupConfig } from '../../tsup.base.js';

export default tsupConfig({
  // Never bundled: core is a dependency (one copy per app, so exit hooks and names are shared),
  // and cli-progress is a dependency the user's package manager deduplicates and updates.
  external: ['@livestep/core', 'cli-progress'],
});
