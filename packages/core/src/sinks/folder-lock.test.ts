import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Run } from '../run/run.js';
import { createDirectorySink } from './directory-sink.js';
import { LOCK_FILE_NAME } from './folder-lock.js';

const fresh = () => join(mkdtempSync(join(tmpdir(), 'livestep-lock-')), 'livestep');
const runInto = (directory: string) =>
  new Run({ exitHooks: false, collectGit: false, directory, name: 'first-run' });

describe('one writer per run folder', () => {
  it('refuses a second run in the same folder while the first is open, naming it and the fix', async () => {
    const directory = fresh();
    const first = runInto(directory);
    expect(() => runInto(directory)).toThrow(
      /is already being written by run "first-run" .*in this process; end that run first .* startRun\(\{ directory \}\) or LIVESTEP_DIR/,
    );
    first.logMetric('loss', 1);
    await first.end();
    // Ended: the folder is free, at once.
    const second = runInto(directory);
    second.logMetric('loss', 2);
    await second.end();
    expect(existsSync(join(directory, LOCK_FILE_NAME))).toBe(false);
  });

  it('frees the folder when end() is called, before its promise settles', () => {
    const directory = fresh();
    const first = runInto(directory);
    void first.end();
    expect(() => runInto(directory).end()).not.toThrow();
  });

  it('refuses a folder that a live process on this host is writing', () => {
    const directory = fresh();
    mkdirSync(directory, { recursive: true });
    // The test runner's parent is alive for the whole test.
    writeFileSync(
      join(directory, LOCK_FILE_NAME),
      JSON.stringify({ pid: process.ppid, host: hostname(), owner: 'run "other"', since: 'now' }),
    );
    expect(() => createDirectorySink({ directory })).toThrow(
      new RegExp(`is being written by run "other" \\(pid ${process.ppid} on `),
    );
  });

  it('takes over a lock left by a process that was killed', async () => {
    const directory = fresh();
    mkdirSync(directory, { recursive: true });
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    const deadPid = Number(dead.stdout.toString());
    writeFileSync(
      join(directory, LOCK_FILE_NAME),
      JSON.stringify({ pid: deadPid, host: hostname(), owner: 'run "killed"', since: 'then' }),
    );
    const run = runInto(directory);
    expect(JSON.parse(readFileSync(join(directory, LOCK_FILE_NAME), 'utf8')).pid).toBe(process.pid);
    await run.end();
  });
});
