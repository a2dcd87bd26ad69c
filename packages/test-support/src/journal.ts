/** What a script's JSONL sink recorded, read back after the script ended. */
import { existsSync, readFileSync } from 'node:fs';
import type { RunEvent } from '@livestep/core';
import { parseJsonl } from '@livestep/core/protocol';

/** Every event of every run in the JSONL record at `path`; none when the file is missing. */
export function readJournal(path: string): RunEvent[] {
  if (!existsSync(path)) return [];
  return parseJsonl(readFileSync(path, 'utf8')).flatMap((record) => record.events);
}
