/**
 * Append-only files for the file sinks, written synchronously: open descriptors kept in a bounded
 * least-recently-used set (a run with thousands of metric files must not run out of descriptors),
 * one `write` per file per batch, and whole-file rewrites that are atomic (temp file + rename), so
 * a process killed at any moment leaves every file parseable.
 *
 * Synchronous on purpose: a write of a few kilobytes to the page cache takes microseconds, less
 * than one turn of the event loop, and it happens in the call that sealed the batch, so the files
 * grow even while a training loop never yields to the event loop.
 */
import {
  closeSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Descriptors kept open at once. Linux's default soft limit is 1,024 per process; this leaves
 * room for the program's own files and sockets, and covers every metric file of a usual run.
 */
export const MAX_OPEN_APPEND_FILES = 128;

export interface AppendFiles {
  /** Appends `text` to the file, creating it and its folders first. One write call. */
  append(path: string, text: string): void;
  /** Closes every descriptor (the files stay). */
  closeAll(): void;
  /** Forgets the descriptors of files under `folder` (after the folder was removed). */
  forgetUnder(folder: string): void;
}

/** Writes `text` completely: `writeSync` may write less than asked. */
function writeFully(descriptor: number, text: string): void {
  let buffer = Buffer.from(text);
  while (buffer.length > 0) {
    const written = writeSync(descriptor, buffer);
    buffer = buffer.subarray(written);
  }
}

export function createAppendFiles(maxOpen = MAX_OPEN_APPEND_FILES): AppendFiles {
  /** Insertion order is recency order: a used entry is deleted and set again. */
  const open = new Map<string, number>();
  const ensuredFolders = new Set<string>();

  function descriptorFor(path: string): number {
    const existing = open.get(path);
    if (existing !== undefined) {
      open.delete(path);
      open.set(path, existing);
      return existing;
    }
    const folder = dirname(path);
    if (!ensuredFolders.has(folder)) {
      mkdirSync(folder, { recursive: true });
      ensuredFolders.add(folder);
    }
    if (open.size >= maxOpen) {
      const [oldestPath, oldest] = open.entries().next().value as [string, number];
      open.delete(oldestPath);
      closeSync(oldest);
    }
    const descriptor = openSync(path, 'a');
    open.set(path, descriptor);
    return descriptor;
  }

  return {
    append(path, text) {
      writeFully(descriptorFor(path), text);
    },
    closeAll() {
      for (const descriptor of open.values()) closeSync(descriptor);
      open.clear();
    },
    forgetUnder(folder) {
      const prefix = folder.endsWith('/') ? folder : `${folder}/`;
      for (const [path, descriptor] of open) {
        if (path.startsWith(prefix)) {
          closeSync(descriptor);
          open.delete(path);
        }
      }
      for (const ensured of ensuredFolders) {
        if (ensured === folder || ensured.startsWith(prefix)) ensuredFolders.delete(ensured);
      }
    },
  };
}

/**
 * Replaces a file's content atomically: readers (and a process killed halfway) see the old file
 * or the new one, never a truncated one. The temp file sits beside the target, so the rename
 * stays on one file system.
 */
export function writeFileAtomically(path: string, data: string | Uint8Array): void {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    writeFileSync(temporary, data);
    renameSync(temporary, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(temporary, data);
      renameSync(temporary, path);
      return;
    }
    rmSync(temporary, { force: true });
    throw error;
  }
}
