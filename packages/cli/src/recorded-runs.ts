/** Finds the recorded runs a `livestep sync` argument names: a JSONL record, a run folder, or a folder of records. */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseJsonl, validateBatch } from '@livestep/core';
import {
  isDvcliveFolder,
  type ReadOptions,
  type RecordedRun,
  readDvcliveFolder,
} from './dvclive-reader.js';

function readJsonlRecord(path: string, options: ReadOptions): RecordedRun[] {
  const runs = parseJsonl(readFileSync(path, 'utf8'), {
    onCutOffLine: (line) =>
      options.onWarning?.(
        `livestep: line ${line} of ${path} was cut off (its writer was killed in the middle of an append); syncing everything before it`,
      ),
  });
  for (const record of runs) {
    const validation = validateBatch({ protocol: 1, run: record.run, events: record.events });
    if (!validation.ok) {
      const issue = validation.issues[0]!;
      throw new SyntaxError(
        `livestep: ${path} is not a valid record: ${issue.path}: ${issue.message}`,
      );
    }
  }
  return runs;
}

export function findRecordedRuns(source: string, options: ReadOptions = {}): RecordedRun[] {
  if (!existsSync(source)) throw new Error(`livestep: ${source} does not exist`);
  if (statSync(source).isFile()) return readJsonlRecord(source, options);
  if (isDvcliveFolder(source)) return [readDvcliveFolder(source, options)];
  const records = readdirSync(source)
    .filter((name) => name.endsWith('.jsonl'))
    .sort()
    .flatMap((name) => readJsonlRecord(join(source, name), options));
  if (records.length === 0) {
    throw new Error(
      `livestep: ${source} holds no run: pass a run folder (DVCLive layout), a .jsonl record, or a folder of .jsonl records`,
    );
  }
  return records;
}
