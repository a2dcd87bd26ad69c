/** The library behind the `livestep` command, for scripts that sync runs themselves. */
export { deterministicUuid } from './deterministic-id.js';
export {
  isDvcliveFolder,
  type ReadOptions,
  type RecordedRun,
  readDvcliveFolder,
} from './dvclive-reader.js';
export { findRecordedRuns } from './recorded-runs.js';
export {
  type ServerTarget,
  type SyncProgress,
  type SyncResult,
  syncToServer,
} from './sync-to-server.js';
export { syncToStudio } from './sync-to-studio.js';
