import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { startTestServer, temporaryFolder } from '../test-support/start-test-server.js';
import { findDashboardDirectory, registerDashboardRoutes } from './dashboard-routes.js';

function fakeBuild(): string {
  const folder = join(temporaryFolder('livestep-dashboard-'), 'dist');
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'index.html'), '<!doctype html><script src="assets/app.js"></script>');
  writeFileSync(join(folder, 'app.js'), 'console.log("page")'.repeat(100));
  writeFileSync(join(folder, 'app.css'), 'body{}');
  writeFileSync(join(folder, 'secret.txt'), 'not served');
  return folder;
}

describe('the dashboard page', () => {
  it('is served at / by a real server, from the files built into the package', async () => {
    expect(findDashboardDirectory(), 'packages/dashboard is built').toBeDefined();
    const server = await startTestServer();
    const page = await fetch(`${server.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("connect-src 'self'");
    const html = await page.text();
    expect(html).toContain('assets/app.js');
    const script = await fetch(`${server.url}/assets/app.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect((await script.text()).length).toBeGreaterThan(10_000);
  });

  it('serves only its own files, gzipped when asked, with an ETag that answers 304', async () => {
    const app = Fastify();
    registerDashboardRoutes(app, fakeBuild());
    const gzipped = await app.inject({
      url: '/assets/app.js',
      headers: { 'accept-encoding': 'gzip' },
    });
    expect(gzipped.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gzipped.rawPayload).toString()).toContain('console.log("page")');
    const again = await app.inject({
      url: '/assets/app.js',
      headers: { 'if-none-match': String(gzipped.headers.etag) },
    });
    expect(again.statusCode).toBe(304);
    for (const url of [
      '/assets/secret.txt',
      '/assets/..%2Fsecret.txt',
      '/assets/%2e%2e%2findex.html',
    ]) {
      const refused = await app.inject({ url });
      expect(refused.statusCode, url).toBe(404);
      expect(refused.body).not.toContain('not served');
    }
    await app.close();
  });

  it('says how to build it when the package was built without it', async () => {
    const app = Fastify();
    registerDashboardRoutes(app, join(temporaryFolder(), 'missing'));
    const answer = await app.inject({ url: '/' });
    expect(answer.statusCode).toBe(503);
    expect(answer.body).toContain('pnpm --filter @livestep/dashboard build');
    await app.close();
  });
});
