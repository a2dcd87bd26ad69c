import { describe, expect, it } from 'vitest';
import { startTestServer } from '../test-support/start-test-server.js';

const TOKEN = 's3cret-token-for-the-dashboard';

async function sessionCookie(url: string, token: string): Promise<Response> {
  return fetch(`${url}/api/v1/session`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
  });
}

describe('the dashboard session on a server with a token', () => {
  it('serves the page without the token, and nothing with run data', async () => {
    const server = await startTestServer({ token: TOKEN });
    expect((await fetch(`${server.url}/`)).status).toBe(200);
    expect((await fetch(`${server.url}/assets/app.js`)).status).toBe(200);
    expect((await fetch(`${server.url}/api/v1/runs`)).status).toBe(401);
    expect((await fetch(`${server.url}/api/v1/stream`)).status).toBe(401);
  });

  it('turns the token, sent once, into an HttpOnly SameSite=Strict cookie that reads runs and the stream', async () => {
    const server = await startTestServer({ token: TOKEN });
    const wrong = await sessionCookie(server.url, 'not-the-token');
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    expect(await wrong.text()).not.toContain(TOKEN);

    const answer = await sessionCookie(server.url, TOKEN);
    expect(answer.status).toBe(204);
    const setCookie = answer.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^livestep_session=[A-Za-z0-9_-]{20,};/);
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('SameSite=Strict');
    expect(setCookie).not.toContain(TOKEN);
    const cookie = setCookie.split(';')[0]!;

    const runs = await fetch(`${server.url}/api/v1/runs`, { headers: { cookie } });
    expect(runs.status).toBe(200);
    const controller = new AbortController();
    const stream = await fetch(`${server.url}/api/v1/stream`, {
      headers: { cookie },
      signal: controller.signal,
    });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    controller.abort();

    // A cookie only reads: it cannot write a run (a page on another site could make a browser post).
    const write = await fetch(`${server.url}/api/v1/batches`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(write.status).toBe(401);
    // A forged or stale cookie is refused.
    const forged = await fetch(`${server.url}/api/v1/runs`, {
      headers: { cookie: 'livestep_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
    });
    expect(forged.status).toBe(401);
  });

  it('gives the same session after a restart with the same token, and none for another token', async () => {
    const first = await startTestServer({ token: TOKEN });
    const cookie = (await sessionCookie(first.url, TOKEN)).headers
      .get('set-cookie')!
      .split(';')[0]!;
    const second = await startTestServer({ token: TOKEN });
    expect((await fetch(`${second.url}/api/v1/runs`, { headers: { cookie } })).status).toBe(200);
    const other = await startTestServer({ token: 'another-token' });
    expect((await fetch(`${other.url}/api/v1/runs`, { headers: { cookie } })).status).toBe(401);
  });

  it('clears the cookie on DELETE', async () => {
    const server = await startTestServer({ token: TOKEN });
    const cleared = await fetch(`${server.url}/api/v1/session`, { method: 'DELETE' });
    expect(cleared.status).toBe(204);
    expect(cleared.headers.get('set-cookie')).toMatch(/^livestep_session=;.*Max-Age=0/);
  });

  it('makes an address that sent 20 wrong tokens within a minute wait (429, Retry-After), the right token too', async () => {
    const server = await startTestServer({ token: TOKEN });
    // Requests with no token are no guesses: a page not logged in yet is not locked out.
    for (let index = 0; index < 30; index++) {
      expect((await fetch(`${server.url}/api/v1/runs`)).status).toBe(401);
    }
    for (let index = 0; index < 19; index++) {
      const wrong = await fetch(`${server.url}/api/v1/runs`, {
        headers: { authorization: `Bearer guess-${index}` },
      });
      expect(wrong.status).toBe(401);
    }
    expect((await sessionCookie(server.url, 'guess-19')).status).toBe(401);
    // The 20th wrong one came through the login form: now every attempt waits, a right one too.
    const locked = await fetch(`${server.url}/api/v1/runs`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(locked.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect(await locked.text()).not.toContain(TOKEN);
    expect((await sessionCookie(server.url, TOKEN)).status).toBe(429);
    // The health check and the page itself stay open.
    expect((await fetch(`${server.url}/api/v1/health`)).status).toBe(200);
    expect((await fetch(`${server.url}/`)).status).toBe(200);
  });
});
