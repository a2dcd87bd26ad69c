import { execFileSync } from 'node:child_process';
import type { GitInfo } from '../protocol/events.js';

/** Git answers in milliseconds; past this the repository is too slow to wait for (network FS). */
const GIT_TIMEOUT_MS = 3_000;

function git(args: string[], cwd: string): string | undefined {
  try {
    return execFileSync('git', args, {
      cwd,
      timeout: GIT_TIMEOUT_MS,
      windowsHide: true,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch {
    return undefined;
  }
}

/**
 * Removes credentials from a remote URL (`https://user:token@host/x.git` -> `https://host/x.git`),
 * so a token kept in a remote never reaches a log, a file or a server.
 */
export function redactRepositoryUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/]*@/i, '$1');
}

/**
 * The commit, branch, remote and dirty state of the repository around `cwd`, or null outside a
 * repository (or without git). Never throws.
 *
 * Synchronous, in two git calls (a few milliseconds), so that a run's start event is complete
 * when it is created: a training loop that never yields to the event loop would otherwise hold
 * back every sink until it ends, waiting for git.
 */
export function collectGitInfo(cwd: string = process.cwd()): GitInfo | null {
  const status = git(['status', '--porcelain=v2', '--branch', '--untracked-files=no'], cwd);
  if (status === undefined) return null;
  let sha: string | undefined;
  let branch: string | undefined;
  let dirty = false;
  for (const line of status.split('\n')) {
    if (line.startsWith('# branch.oid ')) sha = line.slice('# branch.oid '.length).trim();
    else if (line.startsWith('# branch.head ')) branch = line.slice('# branch.head '.length).trim();
    else if (line !== '' && !line.startsWith('#')) dirty = true;
  }
  // A repository without a commit yet has no sha to record.
  if (sha === undefined || !/^[0-9a-f]{7,64}$/.test(sha)) return null;
  if (branch === '(detached)') branch = undefined;

  // The remote of the current branch, as DVC Studio identifies a repository; detached HEAD: origin.
  const remotes = new Map<string, string>();
  let branchRemote: string | undefined;
  const config = git(['config', '--get-regexp', '^(remote\\..*\\.url|branch\\..*\\.remote)$'], cwd);
  for (const line of (config ?? '').split('\n')) {
    const space = line.indexOf(' ');
    if (space < 0) continue;
    const key = line.slice(0, space);
    const value = line.slice(space + 1).trim();
    if (key.startsWith('remote.') && key.endsWith('.url')) {
      remotes.set(key.slice('remote.'.length, -'.url'.length), value);
    } else if (branch !== undefined && key === `branch.${branch}.remote`) {
      branchRemote = value;
    }
  }
  const remoteUrl = remotes.get(branchRemote ?? 'origin');

  const info: GitInfo = { sha };
  if (branch !== undefined) info.branch = branch;
  if (remoteUrl) info.repoUrl = redactRepositoryUrl(remoteUrl);
  info.dirty = dirty;
  return info;
}
