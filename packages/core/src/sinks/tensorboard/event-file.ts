/**
 * One event file, as libtensorflow names and starts it: `events.out.tfevents.<10-digit unix
 * seconds>.<hostname><suffix>` (events_writer.cc's `%s.out.tfevents.%010lld.%s%s`, with tfjs-node's
 * default suffix `.v2`), whose first record is an Event with the creation time in whole seconds
 * and `file_version: "brain.Event:2"`, written as soon as the file opens.
 *
 * Records are appended synchronously, one write per batch. A write that fails part way (a full
 * disk) is cut back to the last whole record, so the file never holds a torn record that would
 * stop TensorBoard reading everything after it; when even that fails the file is given up and
 * the next batch starts a new one.
 */
import { closeSync, ftruncateSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { encodeFileVersionEvent } from './event-proto.js';
import { frameRecords } from './tfrecord.js';

/** tf.node.summaryFileWriter's default `filenameSuffix`. */
export const DEFAULT_FILENAME_SUFFIX = '.v2';

/** Files tried with a counter before giving up, when names collide (two writers, one second). */
const MAX_NAME_ATTEMPTS = 1000;

export interface EventFile {
  readonly path: string;
  /** Appends records (serialized Events), framed, in one write. Throws what the disk said. */
  append(records: readonly Uint8Array[]): void;
  /** False after a failed write could not be cut back: the file takes nothing more. */
  readonly usable: boolean;
  close(): void;
}

/** Writes all of `buffer` at `position`: positioned, so a write after a cut-back lands at the cut. */
function writeFully(descriptor: number, buffer: Buffer, position: number): void {
  let written = 0;
  while (written < buffer.length) {
    written += writeSync(descriptor, buffer, written, buffer.length - written, position + written);
  }
}

/** The event file name for a creation time; `copy` > 0 keeps apart files of one second. */
export function eventFileName(seconds: number, hostname: string, suffix: string, copy = 0): string {
  const counter = copy === 0 ? '' : `.${copy}`;
  return `events.out.tfevents.${String(seconds).padStart(10, '0')}.${hostname}${counter}${suffix}`;
}

/** Creates a new event file in `folder` (and the folder), with its first record written. */
export function createEventFile(
  folder: string,
  createdAtMs: number,
  hostname: string,
  suffix: string,
): EventFile {
  mkdirSync(folder, { recursive: true });
  const seconds = Math.floor(createdAtMs / 1000);
  let path = '';
  let descriptor: number | undefined;
  // Another writer (a second run, this second, this host) may have the name: never append to it.
  for (let copy = 0; descriptor === undefined; copy++) {
    path = join(folder, eventFileName(seconds, hostname, suffix, copy));
    try {
      descriptor = openSync(path, 'wx');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || copy >= MAX_NAME_ATTEMPTS) {
        throw error;
      }
    }
  }
  const fd = descriptor;
  let size = 0;
  let usable = true;

  const append = (records: readonly Uint8Array[]) => {
    const framed = frameRecords(records);
    try {
      writeFully(fd, framed, size);
      size += framed.length;
    } catch (error) {
      try {
        ftruncateSync(fd, size);
      } catch {
        usable = false;
      }
      throw error;
    }
  };

  try {
    append([encodeFileVersionEvent(seconds)]);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  return {
    path,
    append,
    get usable() {
      return usable;
    },
    close() {
      closeSync(fd);
    },
  };
}
