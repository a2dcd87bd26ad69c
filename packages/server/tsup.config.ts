import { cpSync, existsSync } from 'node:fs';
import { tsupConfig } from '../../tsup.base.js';

/** The dashboard page, built by the private @livestep/dashboard package (a devDependency). */
const DASHBOARD_BUILD = '../dashboard/dist';

export default tsupConfig({
  // import.meta.url in the CommonJS bundle too: the dashboard's files are found beside the bundle.
  shims: true,
  // The page ships inside this package: dist/dashboard/{index.html,app.js,app.css}.
  onSuccess: async () => {
    if (!existsSync(DASHBOARD_BUILD)) {
      throw new Error(
        'livestep server build: the dashboard is not built (packages/dashboard/dist); run `pnpm --filter @livestep/dashboard build` first (turbo does it)',
      );
    }
    cpSync(DASHBOARD_BUILD, 'dist/dashboard', { recursive: true });
  },
});
