/**
 * What DVC Studio needs from git: the commit (the experiment's baseline), the repository's root
 * (plot paths are relative to it) and the remote URL exactly as configured (Studio matches
 * repositories by it), read with a few quick `git` calls that never throw.
 */
import { execFile } from 'node:child_process';

/** Git answers in milliseconds; past this the repository is too slow to wait for (network file system). */
const GIT_TIMEOUT_MS = 3_000;

export interface GitFacts {
  /** `git rev-parse HEAD`. */
  sha?: string;
  /** `git rev-parse --show-toplevel`, as an absolute path. */
  root?: string;
  /** The URL of the current branch's remote (`branch.<name>.remote`, else `origin`), as configured. */
  remoteUrl?: string;
}

function git(args: string[], cwd: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('git', args, { cwd, timeout: GIT_TIMEOUT_MS, windowsHide: true }, (error, stdout) => {
      const text = error ? '' : stdout.trim();
      resolve(text === '' ? undefined : text);
    });
  });
}

/** Reads the facts for the repository around `cwd`; outside a repository (or without git) the object is empty. */
export async function readGitFacts(cwd: string): Promise<GitFacts> {
  const [sha, root, branch] = await Promise.all([
    git(['rev-parse', 'HEAD'], cwd),
    git(['rev-parse', '--show-toplevel'], cwd),
    git(['rev-parse', '--abbrev-ref', 'HEAD'], cwd),
  ]);
  if (root === undefined) return {};
  // The remote of the current branch, as DVC does; a detached HEAD (branch "HEAD") uses origin.
  const remoteName =
    branch !== undefined && branch !== 'HEAD'
      ? ((await git(['config', '--get', `branch.${branch}.remote`], cwd)) ?? 'origin')
      : 'origin';
  const remoteUrl = await git(['config', '--get', `remote.${remoteName}.url`], cwd);
  const facts: GitFacts = { root };
  if (sha !== undefined) facts.sha = sha;
  if (remoteUrl !== undefined) facts.remoteUrl = remoteUrl;
  return facts;
}
