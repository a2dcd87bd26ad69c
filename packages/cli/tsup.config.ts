import { readFileSync } from 'node:fs';
import { tsupConfig } from '../../tsup.base.js';

/** `livestep --version` prints the version the package was built as. */
const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));

export default tsupConfig({
  entry: { index: 'src/index.ts', cli: 'src/cli.ts' },
  dts: { entry: 'src/index.ts' },
  define: { PACKAGE_VERSION: JSON.stringify(version) },
});
