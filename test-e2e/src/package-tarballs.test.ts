// Every publishable package packed as `pnpm publish` would pack it: the tarball holds the built
// entry points (ESM, CJS and both type files), the README and the manifest with real version
// ranges, and nothing a user does not need (sources, tests, fixtures, build and test configs).
// Runs after the build: a package without dist/ fails here, naming the command to run.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const packagesFolder = join(root, 'packages');
/** The pinned pnpm (the packageManager field), as every workspace command runs it. */
const pnpm = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).packageManager as string;
/** Packing reads a few files; far more than this means npx or pnpm is stuck. */
const PACK_TIMEOUT_MS = 60_000;

const REQUIRED_ENTRIES = [
  'package/package.json',
  'package/README.md',
  'package/dist/index.js',
  'package/dist/index.cjs',
  'package/dist/index.d.ts',
  'package/dist/index.d.cts',
];

/** What must never be published, with the reason shown when it is. */
const FORBIDDEN_ENTRIES: Array<[RegExp, string]> = [
  [/\.(test|spec)\.[^/]*$/, 'a test file'],
  [/(^|\/)__tests__\//, 'a test folder'],
  [/^package\/src\//, 'the sources (src/)'],
  [/(^|\/)(__)?fixtures?(__)?\//, 'test fixtures'],
  [/(^|\/)test-support\//, 'test helpers'],
  [/^package\/tsconfig[^/]*\.json$/, 'the TypeScript config'],
  [/^package\/tsup\.config\.[cm]?[jt]s$/, 'the tsup config'],
  [/^package\/vitest\.config\.[cm]?[jt]s$/, 'the vitest config'],
  [/(^|\/)(node_modules|\.tmp|\.turbo)\//, 'a local folder (node_modules, .tmp, .turbo)'],
];

const DEPENDENCY_FIELDS = [
  'dependencies',
  'devDependencies',
  'peerDependencies',
  'optionalDependencies',
] as const;

interface WorkspacePackage {
  folder: string;
  name: string;
}

function publishablePackages(): WorkspacePackage[] {
  return readdirSync(packagesFolder, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => join(packagesFolder, entry.name))
    .filter((folder) => existsSync(join(folder, 'package.json')))
    .map((folder) => ({
      folder,
      manifest: JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8')),
    }))
    .filter(({ manifest }) => manifest.private !== true)
    .map(({ folder, manifest }) => ({ folder, name: manifest.name as string }));
}

const temporaryFolders: string[] = [];

afterAll(() => {
  for (const folder of temporaryFolders) rmSync(folder, { recursive: true, force: true });
});

/** Packs the package into a fresh temporary folder and returns the tarball's path. */
async function pack(folder: string): Promise<string> {
  const destination = mkdtempSync(join(tmpdir(), 'livestep-pack-'));
  temporaryFolders.push(destination);
  await run('npx', ['--yes', pnpm, 'pack', '--pack-destination', destination], {
    cwd: folder,
    timeout: PACK_TIMEOUT_MS,
  });
  const tarballs = readdirSync(destination).filter((name) => name.endsWith('.tgz'));
  expect(tarballs, `pnpm pack wrote one tarball into ${destination}`).toHaveLength(1);
  return join(destination, tarballs[0]!);
}

/** Dependency ranges still pointing at the workspace (pnpm must have replaced them). */
function workspaceRanges(manifest: Record<string, unknown>): string[] {
  return DEPENDENCY_FIELDS.flatMap((field) =>
    Object.entries((manifest[field] ?? {}) as Record<string, string>)
      .filter(([, range]) => String(range).startsWith('workspace:'))
      .map(([dependency, range]) => `${field}.${dependency}: ${range}`),
  );
}

const packages = publishablePackages();

describe('package tarballs', () => {
  it('finds publishable packages', () => {
    expect(packages.length).toBeGreaterThan(0);
  });

  for (const { folder, name } of packages) {
    it(`${name} packs its README, its ESM, CJS and type entry points, and nothing else`, async () => {
      // Soft: a missing README or build is reported together with whatever else is wrong.
      const hasReadme = existsSync(join(folder, 'README.md'));
      const readmeMessage = `${name} has no README.md; every published package needs one (it is the npm page)`;
      expect.soft(hasReadme, readmeMessage).toBe(true);
      const isBuilt = existsSync(join(folder, 'dist'));
      const buildMessage = `${name} has no dist/; build it first (pnpm --filter ${name} build)`;
      expect.soft(isBuilt, buildMessage).toBe(true);

      const tarball = await pack(folder);
      const { stdout } = await run('tar', ['-tzf', tarball], { timeout: PACK_TIMEOUT_MS });
      const entries = stdout.split('\n').filter((entry) => entry !== '');

      const missing = REQUIRED_ENTRIES.filter((entry) => !entries.includes(entry));
      expect(missing, `${name}'s tarball lacks ${missing.join(', ')}`).toEqual([]);

      const unwanted = entries.flatMap((entry) =>
        FORBIDDEN_ENTRIES.filter(([pattern]) => pattern.test(entry)).map(
          ([, what]) => `${entry} (${what})`,
        ),
      );
      expect(unwanted, `${name}'s tarball ships files users do not need`).toEqual([]);

      const { stdout: packedManifest } = await run(
        'tar',
        ['-xzOf', tarball, 'package/package.json'],
        { timeout: PACK_TIMEOUT_MS },
      );
      const manifest = JSON.parse(packedManifest) as Record<string, unknown>;
      expect(manifest.name).toBe(name);
      expect(workspaceRanges(manifest), `${name}'s packed package.json`).toEqual([]);
    });
  }
});
