import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeCredentials } from './repository-url.js';
import { resolveStudioConfig } from './studio-config.js';
import { resolveStudioIdentity, ZERO_SHA } from './studio-identity.js';

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();
}

/** A throwaway repository (in the temp folder, not the project's) with one commit and a remote. */
function makeRepository(remote: string, commit = true): string {
  const folder = mkdtempSync(join(tmpdir(), 'livestep-studio-git-'));
  git(folder, 'init', '--quiet', '--initial-branch=main');
  git(folder, 'remote', 'add', 'origin', remote);
  if (commit) {
    git(
      folder,
      '-c',
      'user.name=t',
      '-c',
      'user.email=t@example.com',
      'commit',
      '--quiet',
      '--allow-empty',
      '-m',
      'x',
    );
  }
  return folder;
}

describe('resolveStudioIdentity', () => {
  it('reads the remote (credentials removed) and HEAD from git; paths start at the git root', async () => {
    const folder = makeRepository('https://ghp_secret@github.com/livestep/demo.git');
    const config = resolveStudioConfig({ token: 't', workingDirectory: join(folder) }, {});
    const result = await resolveStudioIdentity(config);
    expect(result).toEqual({
      identity: {
        repoUrl: 'https://github.com/livestep/demo.git',
        baselineSha: git(folder, 'rev-parse', 'HEAD'),
        directory: 'livestep',
      },
    });
  });

  it('prefers HEAD over DVC_EXP_BASELINE_REV, which is used without a commit; else 40 zeros', async () => {
    const revision = 'ABCDEF0123456789ABCDEF0123456789ABCDEF01';
    const withCommit = makeRepository('git@github.com:livestep/demo.git');
    const withoutCommit = makeRepository('git@github.com:livestep/demo.git', false);
    const environment = { DVC_EXP_BASELINE_REV: revision };
    const identityOf = async (cwd: string, env: NodeJS.ProcessEnv) => {
      const result = await resolveStudioIdentity(
        resolveStudioConfig({ workingDirectory: cwd }, env),
      );
      if ('error' in result) throw new Error(result.error);
      return result.identity;
    };
    expect((await identityOf(withCommit, environment)).baselineSha).toBe(
      git(withCommit, 'rev-parse', 'HEAD'),
    );
    expect((await identityOf(withoutCommit, environment)).baselineSha).toBe(revision.toLowerCase());
    expect((await identityOf(withoutCommit, {})).baselineSha).toBe(ZERO_SHA);
    expect((await identityOf(withoutCommit, {})).repoUrl).toBe('git@github.com:livestep/demo.git');
  });

  it('uses the current branch remote; the environment wins over git', async () => {
    const folder = makeRepository('https://github.com/livestep/origin.git');
    git(folder, 'remote', 'add', 'upstream', 'https://github.com/livestep/upstream.git');
    git(folder, 'config', 'branch.main.remote', 'upstream');
    const config = resolveStudioConfig({ workingDirectory: folder }, {});
    const result = await resolveStudioIdentity(config);
    expect(result).toMatchObject({
      identity: { repoUrl: 'https://github.com/livestep/upstream.git' },
    });
    const fromEnvironment = await resolveStudioIdentity(
      resolveStudioConfig({ workingDirectory: folder }, { DVC_STUDIO_REPO_URL: 'https://x/y.git' }),
    );
    expect(fromEnvironment).toMatchObject({ identity: { repoUrl: 'https://x/y.git' } });
  });

  it('sends subdir when the DVC root is below the git root, and paths relative to the DVC root', async () => {
    const folder = makeRepository('https://github.com/livestep/demo.git');
    mkdirSync(join(folder, 'project', '.dvc'), { recursive: true });
    const config = resolveStudioConfig(
      { workingDirectory: join(folder, 'project'), directory: 'runs/first' },
      {},
    );
    const result = await resolveStudioIdentity(config);
    expect(result).toMatchObject({
      identity: { directory: 'runs/first', subdirectory: 'project' },
    });
  });

  it('sends nothing without a repository URL, or with a malformed DVC_EXP_BASELINE_REV', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'livestep-studio-nogit-'));
    const noUrl = await resolveStudioIdentity(
      resolveStudioConfig({ workingDirectory: outside }, {}),
    );
    expect(noUrl).toEqual({ error: expect.stringMatching(/set DVC_STUDIO_REPO_URL/) });
    const badRevision = await resolveStudioIdentity(
      resolveStudioConfig(
        { workingDirectory: outside, repoUrl: 'https://x/y.git' },
        { DVC_EXP_BASELINE_REV: 'main' },
      ),
    );
    expect(badRevision).toEqual({ error: expect.stringMatching(/DVC_EXP_BASELINE_REV "main"/) });
  });
});

describe('removeCredentials', () => {
  it('removes credentials and keeps everything else as configured', () => {
    expect(removeCredentials('https://user:token@github.com/a/b.git')).toBe(
      'https://github.com/a/b.git',
    );
    expect(removeCredentials('https://ghp_x@github.com/a/b')).toBe('https://github.com/a/b');
    expect(removeCredentials('ssh://git@github.com/a/b.git')).toBe('ssh://git@github.com/a/b.git');
    expect(removeCredentials('ssh://git:pw@github.com/a/b.git')).toBe(
      'ssh://git@github.com/a/b.git',
    );
    expect(removeCredentials('git@github.com:a/b.git')).toBe('git@github.com:a/b.git');
    expect(removeCredentials('https://github.com/a/b.git')).toBe('https://github.com/a/b.git');
  });
});
