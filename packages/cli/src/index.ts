/** The library behind the `livestep` command, for scripts that sync runs themselves. */
export {
  deterministicUuid,
  isDvcliveFolder,
  type ReadRunFolderOptions as ReadOptions,
  type RecordedRun,
  readDvcliveFolder,
} from '@livestep/core/sink-kit';
export {
  RECORD_CHUNK_EVENTS,
  type ReadRecordOptions,
  type RecordChunk,
  readJsonlRecord,
} from './jsonl-record-reader.js';
export { findRecordedRuns, openRecordedSources, type RecordedSource } from './recorded-runs.js';
export {
  SINK_TARGETS,
  type SinkTarget,
  syncThroughSink,
  syncToStudio,
} from './sync-through-sink.js';
export {
  DEFAULT_GIVE_UP_AFTER_MS,
  emptyResult,
  type ServerTarget,
  type SyncListeners,
  type SyncProgress,
  type SyncResult,
  syncToServer,
} from './sync-to-server.js';
