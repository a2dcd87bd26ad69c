// The release path and its guard. Every published package's `prepack` runs
// scripts/check-build-output.mjs, so `pnpm pack`, `npm pack` and every publish (`changeset
// publish` runs `pnpm publish`, which packs first) refuse a package whose build output is missing:
// packing the CLI after `npm run demo`, which builds only the demo's packages, once gave a tarball
// with no dist/. Here each package is packed from a copy that has its manifest and README but no
// build, as a maintainer's checkout before `pnpm build` has. The root scripts and the GitHub
// workflow are checked for the steps the release depends on.
import { execFile } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const packagesFolder = join(root, 'packages');
/** The pinned pnpm (the packageManager field), as every workspace command runs it. */
const pnpm = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).packageManager as string;
/** Packing a package of two files; far more than this means npx or pnpm is stuck. */
const PACK_TIMEOUT_MS = 60_000;
const GUARD = 'node ../../scripts/check-build-output.mjs';

interface WorkflowStep {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, unknown>;
}

interface PublishedPackage {
  folder: string;
  name: string;
  manifest: Record<string, unknown> & { scripts?: Record<string, string> };
}

function publishedPackages(): PublishedPackage[] {
  return readdirSync(packagesFolder)
    .map((name) => join(packagesFolder, name))
    .filter((folder) => existsSync(join(folder, 'package.json')))
    .map((folder) => ({
      folder,
      manifest: JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8')),
    }))
    .filter(({ manifest }) => manifest.private !== true)
    .map(({ folder, manifest }) => ({ folder, name: manifest.name as string, manifest }));
}

const temporaryFolders: string[] = [];
afterAll(() => {
  for (const folder of temporaryFolders) rmSync(folder, { recursive: true, force: true });
});

/**
 * A copy of the workspace layout the guard needs: scripts/ and the package's folder with its
 * manifest and README, plus whatever build files are given. Returns the package's folder.
 */
function unbuiltCopy(pkg: PublishedPackage, buildFiles: Record<string, string> = {}): string {
  const copy = mkdtempSync(join(tmpdir(), 'livestep-guard-'));
  temporaryFolders.push(copy);
  cpSync(
    join(root, 'scripts', 'check-build-output.mjs'),
    join(copy, 'scripts', 'check-build-output.mjs'),
  );
  const folder = join(copy, 'packages', pkg.folder.split('/').pop()!);
  mkdirSync(folder, { recursive: true });
  // Without its devDependencies: the copy has no workspace to resolve a `workspace:` range to
  // (the shared test helpers), and what is packed does not depend on them.
  const { devDependencies: _devDependencies, ...manifest } = JSON.parse(
    readFileSync(join(pkg.folder, 'package.json'), 'utf8'),
  );
  writeFileSync(join(folder, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  if (existsSync(join(pkg.folder, 'README.md'))) {
    cpSync(join(pkg.folder, 'README.md'), join(folder, 'README.md'));
  }
  for (const [path, content] of Object.entries(buildFiles)) {
    mkdirSync(join(folder, path, '..'), { recursive: true });
    writeFileSync(join(folder, path), content);
  }
  return folder;
}

/** Runs a pack command and returns its exit code and everything it printed. */
async function pack(command: string, args: string[], cwd: string) {
  const destination = mkdtempSync(join(tmpdir(), 'livestep-guard-pack-'));
  temporaryFolders.push(destination);
  try {
    const { stdout, stderr } = await run(command, [...args, '--pack-destination', destination], {
      cwd,
      timeout: PACK_TIMEOUT_MS,
    });
    return { code: 0, output: stdout + stderr, tarballs: readdirSync(destination) };
  } catch (error) {
    const failure = error as { code?: number; stdout?: string; stderr?: string };
    return {
      code: failure.code ?? 1,
      output: `${failure.stdout ?? ''}${failure.stderr ?? ''}`,
      tarballs: readdirSync(destination),
    };
  }
}

const packages = publishedPackages();

describe('release guard: no package is packed or published without its build', () => {
  it('finds the published packages, each with the build-output guard as its prepack script', () => {
    expect(packages.length).toBeGreaterThan(0);
    for (const { name, manifest } of packages) {
      expect(manifest.scripts?.prepack, `${name}'s scripts.prepack`).toBe(GUARD);
    }
  });

  for (const pkg of packages) {
    it(`pnpm pack of ${pkg.name} without dist/ fails, naming the missing files and the build command`, async () => {
      const folder = unbuiltCopy(pkg);
      const result = await pack('npx', ['--yes', pnpm, 'pack'], folder);
      expect(result.code, result.output).not.toBe(0);
      expect(result.tarballs, 'no tarball is written').toEqual([]);
      expect(result.output).toContain(
        `${pkg.name} cannot be packed or published without its build`,
      );
      expect(result.output).toContain('./dist/index.js');
      expect(result.output).toContain(`pnpm --filter ${pkg.name} build`);
    });
  }

  it('npm pack fails too, and so does a build that lacks one entry point (the CommonJS one)', async () => {
    const core = packages.find(({ name }) => name === '@livestep/core') ?? packages[0]!;
    const unbuilt = await pack('npm', ['pack'], unbuiltCopy(core));
    expect(unbuilt.code, unbuilt.output).not.toBe(0);
    expect(unbuilt.tarballs).toEqual([]);

    const partial = unbuiltCopy(core, {
      'dist/index.js': 'export {};\n',
      'dist/index.d.ts': 'export {};\n',
      'dist/index.d.cts': 'export {};\n',
      'dist/index.cjs': '',
    });
    const result = await pack('npx', ['--yes', pnpm, 'pack'], partial);
    expect(result.code, result.output).not.toBe(0);
    expect(result.output).toContain('./dist/index.cjs (main, exports["."]["require"]["default"])');
    expect(result.output).not.toContain('./dist/index.js (');
  });

  it('packs a package whose entry points are all there', async () => {
    const core = packages.find(({ name }) => name === '@livestep/core') ?? packages[0]!;
    // Every entry the manifest's exports map names (core has three: ., ./protocol, ./sink-kit).
    const entryFiles: Record<string, string> = {};
    for (const entry of ['index', 'protocol', 'sink-kit']) {
      entryFiles[`dist/${entry}.js`] = 'export {};\n';
      entryFiles[`dist/${entry}.d.ts`] = 'export {};\n';
      entryFiles[`dist/${entry}.d.cts`] = 'export {};\n';
      entryFiles[`dist/${entry}.cjs`] = 'module.exports = {};\n';
    }
    const built = unbuiltCopy(core, entryFiles);
    const result = await pack('npx', ['--yes', pnpm, 'pack'], built);
    expect(result.code, result.output).toBe(0);
    expect(result.tarballs).toHaveLength(1);
  });
});

describe('release path', () => {
  const scripts = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts as Record<
    string,
    string
  >;

  it('pnpm release builds every package, runs the package checks, then changeset publish', () => {
    const release = scripts.release ?? '';
    expect(release).toMatch(/^turbo run build check:package\b/);
    expect(release).not.toContain('--filter');
    expect(release).toMatch(/&& changeset publish$/);
  });

  it('pnpm version-packages runs changeset version, then updates the lockfile', () => {
    expect(scripts['version-packages']).toBe('changeset version && pnpm install --lockfile-only');
  });

  it('the GitHub workflow runs the changesets action: version pull request, then publish with provenance', () => {
    const workflow = parse(readFileSync(join(root, '.github', 'workflows', 'release.yml'), 'utf8'));
    expect(workflow.on.push.branches).toEqual(['main']);
    expect(workflow.permissions).toMatchObject({
      contents: 'write',
      'pull-requests': 'write',
      'id-token': 'write',
    });
    const steps = workflow.jobs.release.steps as WorkflowStep[];
    const changesets = steps.find((step) => String(step.uses).startsWith('changesets/action@'));
    expect(changesets?.with).toMatchObject({
      version: 'pnpm version-packages',
      publish: 'pnpm release',
    });
    expect(changesets?.env).toMatchObject({ NPM_CONFIG_PROVENANCE: 'true' });
    const tests = steps.findIndex((step) => step.run === 'bash .ci/run');
    expect(tests, 'the test suite runs before anything is published').toBeGreaterThanOrEqual(0);
    expect(tests).toBeLessThan(steps.indexOf(changesets!));
  });
});
