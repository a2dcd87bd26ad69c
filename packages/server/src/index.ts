export { SqliteRunStore } from './storage/sqlite/sqlite-run-store.js';
