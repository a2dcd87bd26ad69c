/**
 * A real server on 127.0.0.1 with a port chosen at run time, over an in-memory store (or a
 * data folder when a test restarts it), closed after each test.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { createServer, type LivestepServer } from '../create-server.js';
import type { ServerOptions } from '../server-options.js';
import type { RunStore } from '../storage/run-store.js';
import { SqliteRunStore } from '../storage/sqlite/sqlite-run-store.js';

const started: LivestepServer[] = [];

afterEach(async () => {
  await Promise.all(started.splice(0).map((server) => server.close()));
});

export function temporaryFolder(prefix = 'livestep-server-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function startTestServer(options: ServerOptions = {}): Promise<LivestepServer> {
  const store: RunStore | undefined =
    options.store ??
    (options.dataDirectory
      ? undefined
      : new SqliteRunStore({
          directory: ':memory:',
          ...(options.liveness && { liveness: options.liveness }),
        }));
  const server = await createServer({ port: 0, ...options, ...(store && { store }) });
  started.push(server);
  return server;
}

/** A store that holds every commit until `release()` is called (or for `delayMs`). */
export function slowStore(inner: RunStore, delayMs?: number) {
  let releases: Array<() => void> = [];
  const wrapped: RunStore & { release(): void; commits: number; started: number } =
    Object.create(inner);
  wrapped.commits = 0;
  wrapped.started = 0;
  wrapped.ingest = async (batches) => {
    wrapped.started++;
    await new Promise<void>((resolve) => {
      if (delayMs !== undefined) setTimeout(resolve, delayMs);
      else releases.push(resolve);
    });
    const result = await inner.ingest(batches);
    wrapped.commits++;
    return result;
  };
  wrapped.release = () => {
    const pending = releases;
    releases = [];
    for (const release of pending) release();
  };
  wrapped.close = async () => {
    wrapped.release();
    await inner.close();
  };
  return wrapped;
}

export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = { text };
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

// biome-ignore lint/suspicious/noExplicitAny: tests read answers field by field and let expect() check them
type Answer = any;

export async function getJson(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Answer; headers: Headers }> {
  const response = await fetch(url, { headers });
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text) as Answer, headers: response.headers };
}
