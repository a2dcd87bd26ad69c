/**
 * The package's three entries as users and authors find them: the main entry exports what the
 * README documents and nothing else, every name the README gives an entry is exported by it, and
 * the protocol entry, once built, loads no `node:` module (servers and browsers share it).
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const packageFolder = resolve(import.meta.dirname, '..');
const readme = readFileSync(join(packageFolder, 'README.md'), 'utf8');
const source = (path: string) => readFileSync(join(packageFolder, 'src', path), 'utf8');

/** The names an entry file exports (values and types), from its `export { ... }` lists. */
function exportedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const [, list] of text.matchAll(/export (?:type )?\{([^}]*)\}/g)) {
    for (const item of list!.split(',')) {
      const name = item
        .replace(/^\s*type\s+/, '')
        .split(' as ')
        .at(-1)!
        .trim();
      if (name !== '') names.add(name);
    }
  }
  return names;
}

/** What events.ts declares: with `export *` an entry exports all of it. */
const events = source('protocol/events.ts');
const eventTypes = new Set(
  [...events.matchAll(/^export (?:type|interface) (\w+)/gm)].map((m) => m[1]!),
);
const eventValues = new Set([...events.matchAll(/^export const (\w+)/gm)].map((m) => m[1]!));

/** The backticked identifiers of the README's paragraph about one entry. */
function documentedNames(entry: string, nextEntry: string | undefined): Set<string> {
  const start = readme.indexOf(`**\`${entry}\`**`);
  expect(start, `the README has a paragraph on ${entry}`).toBeGreaterThan(-1);
  const end =
    nextEntry === undefined
      ? readme.indexOf('\n## ', start)
      : readme.indexOf(`**\`${nextEntry}\`**`, start);
  const paragraph = readme.slice(start, end);
  return new Set([...paragraph.matchAll(/`([A-Za-z_][A-Za-z0-9_]*)`/g)].map((match) => match[1]!));
}

describe('the entries of @livestep/core', () => {
  it('the main entry exports what the README documents, and nothing else', () => {
    const exported = exportedNames(source('index.ts'));
    expect(source('index.ts')).toContain("export type * from './protocol/events.js';");
    const documented = documentedNames('@livestep/core', '@livestep/core/protocol');
    const undocumented = [...exported].filter((name) => !documented.has(name));
    expect(undocumented, 'exported by the main entry but not in the README').toEqual([]);
    const missing = [...documented].filter((name) => !exported.has(name) && !eventTypes.has(name));
    expect(missing, 'in the README but not exported by the main entry').toEqual([]);
  });

  it('the subpath entries export every name the README gives them', () => {
    const protocolNames = new Set([
      ...exportedNames(source('protocol/index.ts')),
      ...eventTypes,
      ...eventValues,
    ]);
    const protocolMissing = [
      ...documentedNames('@livestep/core/protocol', '@livestep/core/sink-kit'),
    ].filter((name) => !protocolNames.has(name));
    expect(protocolMissing).toEqual([]);
    const kitNames = exportedNames(source('sink-kit.ts'));
    const kitMissing = [...documentedNames('@livestep/core/sink-kit', undefined)].filter(
      (name) => !kitNames.has(name),
    );
    expect(kitMissing).toEqual([]);
  });

  it('the built protocol entry loads no node: module, only the schema library', () => {
    const bare = new Set<string>();
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, 'utf8');
      for (const [, specifier] of text.matchAll(/(?:from|import|require\()\s*['"]([^'"]+)['"]/g)) {
        if (specifier!.startsWith('.')) visit(resolve(dirname(file), specifier!));
        else bare.add(specifier!);
      }
    };
    for (const built of ['protocol.js', 'protocol.cjs']) {
      visit(join(packageFolder, 'dist', built));
    }
    expect(seen.size).toBeGreaterThan(1);
    expect([...bare].filter((specifier) => !specifier.startsWith('@sinclair/typebox'))).toEqual([]);
  });

  it('the package exports each entry for import and require, with its types', () => {
    const manifest = JSON.parse(readFileSync(join(packageFolder, 'package.json'), 'utf8'));
    for (const [entry, file] of [
      ['.', 'index'],
      ['./protocol', 'protocol'],
      ['./sink-kit', 'sink-kit'],
    ]) {
      expect(manifest.exports[entry!]).toEqual({
        import: { types: `./dist/${file}.d.ts`, default: `./dist/${file}.js` },
        require: { types: `./dist/${file}.d.cts`, default: `./dist/${file}.cjs` },
      });
    }
  });
});
