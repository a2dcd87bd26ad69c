import { execFile } from 'node:child_process';
import type { GitInfo } from './protocol.js';

/** Git answers in milliseconds; past this the repository is too slow to wait for (network FS). */
const GIT_TIMEOUT_MS = 3_000;

function git(args: string[], cwd: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('git', args, { cwd, timeout: GIT_TIMEOUT_MS, windowsHide: true }, (error, stdout) => {
      resolve(error ? undefined : stdout.trim());
    });
  });
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
 */
export async function collectGitInfo(cwd: string = process.cwd()): Promise<GitInfo | null> {
  const sha = await git(['rev-parse', 'HEAD'], cwd);
  if (sha === undefined) return null;
  const [branch, status] = await Promise.all([
    git(['rev-parse', '--abbrev-ref', 'HEAD'], cwd),
    git(['status', '--porcelain', '--untracked-files=no'], cwd),
  ]);
  // The remote of the current branch, as DVC Studio identifies a repository; detached HEAD: origin.
  const remoteName =
    branch && branch !== 'HEAD'
      ? ((await git(['config', '--get', `branch.${branch}.remote`], cwd)) ?? 'origin')
      : 'origin';
  const remoteUrl = await git(['config', '--get', `remote.${remoteName}.url`], cwd);
  const info: GitInfo = { sha };
  if (branch && branch !== 'HEAD') info.branch = branch;
  if (remoteUrl) info.repoUrl = redactRepositoryUrl(remoteUrl);
  if (status !== undefined) info.dirty = status.length > 0;
  return info;
}
