import { readFileSync } from 'node:fs';
import { defineConfig } from 'tsup';

/** `livestep --version` prints the version the package was built as. */
const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));

export default defineConfig({
  entry: { index: 'src/index.ts', cli: 'src/cli.ts' },
  format: ['esm', 'cjs'],
  dts: { entry: 'src/index.ts' },
  sourcemap: true,
  clean: true,
  target: 'node20',
  splitting: false,
  treeshake: true,
  define: { PACKAGE_VERSION: JSON.stringify(version) },
});
