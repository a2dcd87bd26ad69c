#!/usr/bin/env node
// The `prepack` guard of every published package: `npm pack`, `pnpm pack`, `npm publish`,
// `pnpm publish` and `changeset publish` run it in the package's folder before they pack, so a
// package whose build output is missing cannot be packed or published. It reads the package's
// own manifest and checks that every file it points users at (main, module, types, bin and each
// target of the exports map) exists and is not empty, and exits 1 naming the missing files and
// the command that builds them. It does not build: a guard that quietly built would publish
// whatever the working tree holds, and the release path (`pnpm release`) builds everything first.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const folder = process.cwd();
const manifest = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8'));

/** Every file path the manifest points at, with the field that names it. */
function entryPoints() {
  const entries = [];
  const add = (path, field) => {
    if (typeof path !== 'string') return;
    // `./package.json` is the manifest itself; patterns (`./*`) name no single file.
    if (path === './package.json' || path.includes('*')) return;
    entries.push({ path, field });
  };
  for (const field of ['main', 'module', 'types', 'typings']) add(manifest[field], field);
  if (typeof manifest.bin === 'string') add(manifest.bin, 'bin');
  else for (const [name, path] of Object.entries(manifest.bin ?? {})) add(path, `bin.${name}`);
  const walk = (value, field) => {
    if (typeof value === 'string') add(value, field);
    else if (Array.isArray(value)) {
      for (const [index, item] of value.entries()) walk(item, `${field}[${index}]`);
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) walk(item, `${field}["${key}"]`);
    }
  };
  walk(manifest.exports, 'exports');
  return entries;
}

const entries = entryPoints();
/** Each missing file once, with every field that names it. */
const missing = new Map();
for (const { path, field } of entries) {
  const file = join(folder, path);
  if (existsSync(file) && statSync(file).isFile() && statSync(file).size > 0) continue;
  missing.set(path, [...(missing.get(path) ?? []), field]);
}

if (entries.length === 0) {
  console.error(
    `${manifest.name}: the package.json names no entry point (main, exports, bin), so there is nothing to check; refusing to pack it.`,
  );
  process.exit(1);
}

if (missing.size > 0) {
  const list = [...missing].map(([path, fields]) => `  ${path} (${fields.join(', ')})`).join('\n');
  console.error(
    [
      `${manifest.name} cannot be packed or published without its build output; missing or empty:`,
      list,
      `Build it first: pnpm --filter ${manifest.name} build (or pnpm release, which builds every package, checks them and publishes).`,
    ].join('\n'),
  );
  process.exit(1);
}
