/**
 * Stores for tests: `openTestStore()` opens a SqliteRunStore (in memory unless a folder is
 * given) that is closed after the test, so no test file keeps its own list and afterEach.
 */
import { afterEach } from 'vitest';
import { SqliteRunStore, type SqliteRunStoreOptions } from '../storage/sqlite/sqlite-run-store.js';

const opened: SqliteRunStore[] = [];

afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});

export function openTestStore(options: Partial<SqliteRunStoreOptions> = {}): SqliteRunStore {
  const store = new SqliteRunStore({ directory: ':memory:', ...options });
  opened.push(store);
  return store;
}
