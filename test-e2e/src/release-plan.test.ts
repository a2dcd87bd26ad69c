// The release that `changeset version` would make from the changesets on main: every changeset
// parses, only published packages are versioned, every published package is released, and no
// bump is major while the packages are 0.x. (A peer range that a sibling's minor bump leaves
// behind makes changesets bump the dependent a major: that is how core once had a 1.0.0 plan.)
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import getReleasePlan from '@changesets/get-release-plan';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

function publishedPackageNames(): string[] {
  const packagesFolder = join(root, 'packages');
  return readdirSync(packagesFolder)
    .map((name) => join(packagesFolder, name, 'package.json'))
    .filter((manifest) => existsSync(manifest))
    .map((manifest) => JSON.parse(readFileSync(manifest, 'utf8')))
    .filter((manifest) => manifest.private !== true)
    .map((manifest) => manifest.name as string)
    .sort();
}

describe('release plan (what `changeset version` would do)', () => {
  it('versions exactly the published packages, each a minor or patch, from changesets that parse', async () => {
    // The plan `changeset status` prints, without its comparison to a git branch. A changeset
    // that does not parse makes this throw, naming the file.
    const plan = await getReleasePlan(root);
    const published = publishedPackageNames();

    expect(plan.changesets.length).toBeGreaterThan(0);
    for (const changeset of plan.changesets) {
      expect(changeset.summary.trim(), `.changeset/${changeset.id}.md has no text`).not.toBe('');
      for (const release of changeset.releases) {
        expect(published, `.changeset/${changeset.id}.md names ${release.name}`).toContain(
          release.name,
        );
      }
    }
    const released = plan.releases.filter((release) => release.type !== 'none');
    expect(released.map((release) => release.name).sort()).toEqual(published);
    for (const release of released) {
      if (release.oldVersion.startsWith('0.')) {
        expect(release.type, `${release.name} ${release.oldVersion}`).not.toBe('major');
      }
    }
  });
});
