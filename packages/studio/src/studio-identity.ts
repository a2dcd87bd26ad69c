/**
 * Who a live experiment is to DVC Studio: the repository (repo_url), the commit it started from
 * (baseline_sha), and where its files are (the run folder relative to the DVC root, and the DVC
 * root relative to the git root: `subdir`). Needs git, so it is resolved in the background before
 * the first post, never while the run is being set up.
 */
import { existsSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, sep } from 'node:path';
import { type GitFacts, readGitFacts } from './git-facts.js';
import { removeCredentials } from './repository-url.js';
import { normalizeBaselineSha, type StudioConfig } from './studio-config.js';

/** The baseline when there is neither a git HEAD nor DVC_EXP_BASELINE_REV (the reference's choice). */
export const ZERO_SHA = '0'.repeat(40);

export interface StudioIdentity {
  repoUrl: string;
  baselineSha: string;
  /** The run folder relative to the DVC root, POSIX ('' when it is the root itself). */
  directory: string;
  /** The DVC root relative to the git root, POSIX; undefined when they are the same folder. */
  subdirectory?: string;
}

export type IdentityResult = { identity: StudioIdentity } | { error: string };

function toPosix(path: string): string {
  return path.split(sep).join('/');
}

function isInside(parent: string, child: string): boolean {
  const path = relative(parent, child);
  return path === '' || (!path.startsWith('..') && !isAbsolute(path));
}

/** The nearest folder holding `.dvc`, from the run folder up to the git root; else the git root. */
function findDvcRoot(directory: string, gitRoot: string): string {
  if (!isInside(gitRoot, directory)) return gitRoot;
  for (let folder = directory; ; folder = dirname(folder)) {
    if (existsSync(join(folder, '.dvc'))) return folder;
    if (folder === gitRoot || dirname(folder) === folder) return gitRoot;
  }
}

export async function resolveStudioIdentity(
  config: StudioConfig,
  readGit: (cwd: string) => Promise<GitFacts> = readGitFacts,
): Promise<IdentityResult> {
  const git = await readGit(config.workingDirectory);

  const configuredUrl = config.repoUrl ?? git.remoteUrl;
  if (configuredUrl === undefined) {
    return {
      error:
        'livestep: DVC Studio needs the repository URL and none was found; set DVC_STUDIO_REPO_URL (or options.repoUrl), or run inside a git repository that has a remote. Nothing is sent to Studio',
    };
  }

  let baselineSha = config.baselineSha ?? normalizeBaselineSha(git.sha);
  if (baselineSha === undefined && config.baselineFromEnvironment !== undefined) {
    baselineSha = normalizeBaselineSha(config.baselineFromEnvironment);
    if (baselineSha === undefined) {
      return {
        error: `livestep: DVC_EXP_BASELINE_REV ${JSON.stringify(config.baselineFromEnvironment.slice(0, 60))} is not a 40-character commit sha; set it to the full sha of the baseline commit. Nothing is sent to Studio`,
      };
    }
  }

  const root =
    git.root === undefined ? config.workingDirectory : findDvcRoot(config.directory, git.root);
  let directory = toPosix(relative(root, config.directory));
  if (!isInside(root, config.directory)) {
    // A run folder outside the repository has no repository path; name it as the user did.
    const fromWorkingDirectory = relative(config.workingDirectory, config.directory);
    directory = isInside(config.workingDirectory, config.directory)
      ? toPosix(fromWorkingDirectory)
      : basename(config.directory);
  }

  const identity: StudioIdentity = {
    repoUrl: removeCredentials(configuredUrl),
    baselineSha: baselineSha ?? ZERO_SHA,
    directory,
  };
  if (git.root !== undefined && root !== git.root) {
    identity.subdirectory = toPosix(relative(git.root, root));
  }
  return { identity };
}
