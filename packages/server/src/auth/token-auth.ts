/**
 * Bearer-token authentication. When the server has a token (it must, bound off loopback), every
 * request but the health check carries it: `Authorization: Bearer <token>` (livestep clients) or
 * `Authorization: token <token>` (DVC Studio clients). Tokens are compared in constant time, as
 * SHA-256 digests so their lengths leak nothing either, and never logged or echoed.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { HttpError, sendError } from '../http/http-error.js';

/** Paths answered without a token: they carry no run data. */
const OPEN_PATHS = new Set(['/api/v1/health']);

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Whether a host to listen on is loopback-only (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost' || bare === '::1') return true;
  return isIP(bare) === 4 && bare.startsWith('127.');
}

/** The token a request carries, from either scheme. */
export function presentedToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^(?:bearer|token)\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

export function registerTokenAuth(app: FastifyInstance, token: string): void {
  const expected = digest(token);
  app.addHook('onRequest', async (request, reply) => {
    if (OPEN_PATHS.has(request.url.split('?')[0] ?? '')) return;
    const presented = presentedToken(request.headers.authorization);
    if (presented !== undefined && timingSafeEqual(digest(presented), expected)) return;
    return sendError(
      reply,
      new HttpError(
        401,
        'unauthorized',
        presented === undefined
          ? 'this server needs a token: send Authorization: Bearer <token> (LIVESTEP_TOKEN for the HTTP sink; DVC_STUDIO_TOKEN for DVCLive)'
          : "the token is not this server's; check LIVESTEP_TOKEN (or DVC_STUDIO_TOKEN)",
      ),
    );
  });
}
