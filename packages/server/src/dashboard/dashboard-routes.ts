/**
 * The dashboard page at `/`: static files built by the private @livestep/dashboard package and
 * copied into this package's dist/dashboard/ at build, so the published server carries them (no
 * CDN: the page works on a machine with no internet). The files are read once at start, kept in
 * memory with their gzip form and an ETag, and only those names are served (no path from the
 * request ever reaches the file system).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** The files of a built dashboard, and how each is served. */
const FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

/**
 * The page loads only its own script and style and calls only this server. Inline styles are
 * allowed because uPlot positions its elements with style attributes.
 */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

interface Asset {
  type: string;
  body: Buffer;
  gzip: Buffer;
  etag: string;
}

/** Where the built page is: beside the bundle (dist/dashboard), or the workspace's build when run from source. */
export function findDashboardDirectory(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [
    join(here, 'dashboard'),
    join(here, '..', '..', 'dist', 'dashboard'),
    join(here, '..', '..', '..', 'dashboard', 'dist'),
  ];
  return candidates.find((folder) => existsSync(join(folder, 'index.html')));
}

function loadAssets(directory: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const [name, type] of Object.entries(FILES)) {
    const file = join(directory, name);
    if (!existsSync(file)) continue;
    const body = readFileSync(file);
    assets.set(name, {
      type,
      body,
      gzip: gzipSync(body),
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
    });
  }
  return assets;
}

function send(request: FastifyRequest, reply: FastifyReply, asset: Asset): FastifyReply {
  reply
    .header('content-type', asset.type)
    .header('etag', asset.etag)
    .header('cache-control', 'no-cache')
    .header('x-content-type-options', 'nosniff')
    .header('vary', 'accept-encoding');
  if (asset.type.startsWith('text/html')) {
    reply
      .header('content-security-policy', CONTENT_SECURITY_POLICY)
      .header('referrer-policy', 'no-referrer');
  }
  if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
  if (/\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''))) {
    return reply.header('content-encoding', 'gzip').send(asset.gzip);
  }
  return reply.send(asset.body);
}

/** Paths the dashboard answers, for the token check (the page holds no run data). */
export function isDashboardPath(path: string): boolean {
  return path === '/' || path === '/index.html' || path.startsWith('/assets/');
}

export function registerDashboardRoutes(
  app: FastifyInstance,
  directory: string | undefined = findDashboardDirectory(),
): void {
  const assets = directory === undefined ? new Map<string, Asset>() : loadAssets(directory);
  const page = async (request: FastifyRequest, reply: FastifyReply) => {
    const index = assets.get('index.html');
    if (index === undefined) {
      return reply
        .code(503)
        .type('text/plain; charset=utf-8')
        .send(
          'livestep: this server was built without its dashboard page. Build it with `pnpm --filter @livestep/dashboard build` and then `pnpm --filter @livestep/server build`; the query API is at /api/v1 (see /api/v1/openapi.json).\n',
        );
    }
    return send(request, reply, index);
  };
  app.get('/', page);
  app.get('/index.html', page);
  app.get('/assets/:file', async (request, reply) => {
    const name = (request.params as { file: string }).file;
    const asset = name === 'index.html' ? undefined : assets.get(name);
    if (asset === undefined) {
      return reply
        .code(404)
        .type('text/plain; charset=utf-8')
        .send(`no such dashboard file: ${name.slice(0, 80)}\n`);
    }
    return send(request, reply, asset);
  });
}
