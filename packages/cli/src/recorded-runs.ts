/**
 * Finds the recorded runs a `livestep sync` argument names: a JSONL record, a run folder, or a
 * folder of records, as sources of chunks that are read as they are sent (a record of millions
 * of events never sits in memory whole).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseJsonl, validateBatch } from '@livestep/core/protocol';
import {
  isDvcliveFolder,
  type ReadRunFolderOptions as ReadOptions,
  type RecordedRun,
  readDvcliveFolder,
} from '@livestep/core/sink-kit';
import { RECORD_CHUNK_EVENTS, type RecordChunk, readJsonlRecord } from './jsonl-record-reader.js';

/** One file or folder to sync: its chunks in order, a run's chunks one after the other. */
export interface RecordedSource {
  path: string;
  chunks(): AsyncIterable<RecordChunk>;
}

async function* folderChunks(folder: string, options: ReadOptions): AsyncGenerator<RecordChunk> {
  const recorded = readDvcliveFolder(folder, options);
  const { events } = recorded;
  for (let start = 0; start < events.length; start += RECORD_CHUNK_EVENTS) {
    const end = Math.min(events.length, start + RECORD_CHUNK_EVENTS);
    const chunk: RecordChunk = {
      run: recorded.run,
      events: events.slice(start, end),
      fraction: end / events.length,
    };
    if (recorded.folder !== undefined) chunk.folder = recorded.folder;
    yield chunk;
  }
}

/** The sources `source` names; throws a message naming it when it holds no run. */
export function openRecordedSources(source: string, options: ReadOptions = {}): RecordedSource[] {
  if (!existsSync(source)) throw new Error(`livestep: ${source} does not exist`);
  const record = (path: string): RecordedSource => ({
    path,
    chunks: () =>
      readJsonlRecord(
        path,
        options.onWarning === undefined ? {} : { onWarning: options.onWarning },
      ),
  });
  if (statSync(source).isFile()) return [record(source)];
  if (isDvcliveFolder(source))
    return [{ path: source, chunks: () => folderChunks(source, options) }];
  const records = readdirSync(source)
    .filter((name) => name.endsWith('.jsonl'))
    .sort()
    .map((name) => record(join(source, name)));
  if (records.length === 0) {
    throw new Error(
      `livestep: ${source} holds no run: pass a run folder (DVCLive layout), a .jsonl record, or a folder of .jsonl records`,
    );
  }
  return records;
}

function readJsonlRecordWhole(path: string, options: ReadOptions): RecordedRun[] {
  const runs = parseJsonl(readFileSync(path, 'utf8'), {
    onCutOffLine: (line) =>
      options.onWarning?.(
        `livestep: line ${line} of ${path} was cut off (its writer was killed in the middle of an append); syncing everything before it`,
      ),
  });
  for (const recorded of runs) {
    const validation = validateBatch({ protocol: 1, run: recorded.run, events: recorded.events });
    if (!validation.ok) {
      const issue = validation.issues[0]!;
      throw new SyntaxError(
        `livestep: ${path} is not a valid record: ${issue.path}: ${issue.message}`,
      );
    }
  }
  return runs;
}

/**
 * The recorded runs whole, in memory: for programs that want to look at them. `livestep sync`
 * streams instead (`openRecordedSources`).
 */
export function findRecordedRuns(source: string, options: ReadOptions = {}): RecordedRun[] {
  if (!existsSync(source)) throw new Error(`livestep: ${source} does not exist`);
  if (statSync(source).isFile()) return readJsonlRecordWhole(source, options);
  if (isDvcliveFolder(source)) return [readDvcliveFolder(source, options)];
  const records = readdirSync(source)
    .filter((name) => name.endsWith('.jsonl'))
    .sort()
    .flatMap((name) => readJsonlRecordWhole(join(source, name), options));
  if (records.length === 0) {
    throw new Error(
      `livestep: ${source} holds no run: pass a run folder (DVCLive layout), a .jsonl record, or a folder of .jsonl records`,
    );
  }
  return records;
}
