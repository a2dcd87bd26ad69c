/**
 * One writer per run folder. Two runs appending to the same TSVs (two processes, or two runs in
 * one process) interleave rows and clear each other's files, while every flush report says ok. A
 * lock file in the folder, `.livestep.lock`, names the writer (pid, host, run); a second writer is
 * refused with a message naming the first and the fix. A lock left by a process that died
 * (`kill -9`) is taken over, since its pid no longer runs.
 */
import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export const LOCK_FILE_NAME = '.livestep.lock';

interface LockOwner {
  pid: number;
  host: string;
  /** What the folder is written by: the sink's owner, for the message a second writer gets. */
  owner: string;
  since: string;
}

/** Folders this process holds, and by whom, so that a second run in the same process is refused too. */
const heldInThisProcess = new Map<string, string>();

/** True while a process with this pid exists on this host (whoever owns it). */
export function isProcessRunning(pid: number): boolean {
  // 0 and negative numbers name process groups to kill(), not a process.
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(path: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
    return typeof owner.pid === 'number' ? owner : undefined;
  } catch {
    return undefined;
  }
}

export interface FolderLock {
  /** Names the writer once it is known (the run's start event), for a second writer's message. */
  describe(owner: string): void;
  /** Gives the folder up; safe to call more than once. */
  release(): void;
}

/**
 * Takes the folder for this writer, or throws an Error naming the writer that has it. `owner`
 * describes this writer for that message (e.g. `run "bright-owl"`).
 */
export function lockFolder(directory: string, owner: string): FolderLock {
  const path = join(directory, LOCK_FILE_NAME);
  const holder = heldInThisProcess.get(directory);
  if (holder !== undefined) {
    throw new Error(
      `livestep: ${directory} is already being written by ${holder} in this process; end that run first (await run.end()), or give this one its own folder: startRun({ directory }) or LIVESTEP_DIR`,
    );
  }
  mkdirSync(directory, { recursive: true });
  const record: LockOwner = {
    pid: process.pid,
    host: hostname(),
    owner,
    since: new Date().toISOString(),
  };
  for (let attempt = 0; attempt < 2; attempt++) {
    let descriptor: number;
    try {
      descriptor = openSync(path, 'wx');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const current = readOwner(path);
      const sameHost = current === undefined || current.host === record.host;
      if (current !== undefined && sameHost && !isProcessRunning(current.pid)) {
        // Left by a process that died: take it over.
        rmSync(path, { force: true });
        continue;
      }
      if (current === undefined) {
        // Half-written by a writer killed while locking: nobody can hold it.
        rmSync(path, { force: true });
        continue;
      }
      throw new Error(
        `livestep: ${directory} is being written by ${current.owner} (pid ${current.pid} on ${current.host}, since ${current.since}); two runs in one folder would mix their rows. Give this run its own folder (startRun({ directory }) or LIVESTEP_DIR), or wait for that run to end. If no such process runs, remove ${path}.`,
      );
    }
    try {
      writeSync(descriptor, JSON.stringify(record));
    } finally {
      closeSync(descriptor);
    }
    heldInThisProcess.set(directory, owner);
    let held = true;
    return {
      describe(newOwner) {
        if (!held) return;
        record.owner = newOwner;
        heldInThisProcess.set(directory, newOwner);
        writeFileSync(path, JSON.stringify(record));
      },
      release() {
        if (!held) return;
        held = false;
        heldInThisProcess.delete(directory);
        const current = readOwner(path);
        if (current?.pid === process.pid) rmSync(path, { force: true });
      },
    };
  }
  throw new Error(`livestep: could not lock ${directory}: ${path} keeps reappearing`);
}
