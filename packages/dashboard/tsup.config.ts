/**
 * The page is static files: one minified script (an IIFE: no module loader, no CDN) and its CSS
 * (the page's own and uPlot's), plus index.html, written to dist/. @livestep/server copies them
 * into its own dist/ at build, so they ship inside the published server package.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { app: 'src/main.ts' },
  format: ['iife'],
  platform: 'browser',
  target: 'es2022',
  outDir: 'dist',
  minify: true,
  sourcemap: false,
  dts: false,
  clean: true,
  splitting: false,
  treeshake: true,
  noExternal: [/.*/],
  outExtension: () => ({ js: '.js' }),
  onSuccess: async () => {
    mkdirSync('dist', { recursive: true });
    copyFileSync('src/index.html', 'dist/index.html');
  },
});
