import { describe, expect, it } from 'vitest';
import { createServer } from './create-server.js';
import { SqliteRunStore } from './storage/sqlite/sqlite-run-store.js';
import { TestRun } from './test-support/make-events.js';
import {
  postJson,
  slowStore,
  startTestServer,
  temporaryFolder,
} from './test-support/start-test-server.js';

describe('createServer', () => {
  it('commits what it acknowledged when closed in the middle of ingest, then refuses new work', async () => {
    const directory = temporaryFolder();
    const store = slowStore(new SqliteRunStore({ directory }), 300);
    const server = await createServer({ port: 0, store });
    const run = new TestRun();
    const inFlight = postJson(
      `${server.url}/api/v1/batches`,
      run.batch([run.start(), run.metric('loss', 1, 0)]),
    );
    // Close once the batch is being committed (the slow store holds it 300 ms).
    for (let waited = 0; store.started === 0 && waited < 10_000; waited += 10) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const closed = server.close();
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    await closed;
    await expect(fetch(`${server.url}/api/v1/health`)).rejects.toThrow();
    const reopened = new SqliteRunStore({ directory });
    expect(await reopened.counts()).toMatchObject({ runs: 1, points: 1, events: 2 });
    await reopened.close();
  });

  it('keeps CORS off unless an origin is listed', async () => {
    const closed = await startTestServer();
    const plain = await fetch(`${closed.url}/api/v1/runs`, {
      headers: { origin: 'https://evil.example' },
    });
    expect(plain.headers.get('access-control-allow-origin')).toBeNull();
    const open = await startTestServer({
      corsOrigins: ['http://localhost:5173'],
      token: 'lst_tok_9',
    });
    const preflight = await fetch(`${open.url}/api/v1/runs`, {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:5173', 'access-control-request-method': 'GET' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    const other = await fetch(`${open.url}/api/v1/runs`, {
      headers: { origin: 'https://evil.example' },
    });
    expect(other.status).toBe(401);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('prints no token in its logs', async () => {
    const lines: string[] = [];
    const token = 'lst_never_logged_0042';
    const server = await startTestServer({ token, logger: true });
    // Fastify's logger writes to stdout; capture it for this request.
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => {
      lines.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
    try {
      await fetch(`${server.url}/api/v1/runs`, { headers: { authorization: `Bearer ${token}` } });
      await fetch(`${server.url}/api/v1/runs`, {
        headers: { authorization: 'Bearer wrong-token' },
      });
    } finally {
      process.stdout.write = write;
    }
    expect(lines.join('')).not.toContain(token);
    expect(lines.join('')).not.toContain('wrong-token');
  });
});
