/**
 * Bearer-token authentication. When the server has a token (it must, bound off loopback), every
 * request but the health check and the dashboard's static files carries it:
 * `Authorization: Bearer <token>` (livestep clients) or `Authorization: token <token>` (DVC Studio
 * clients), or, for reads from the dashboard page, its session cookie (see dashboard-session.ts:
 * an EventSource cannot set headers). Tokens are compared in constant time, as SHA-256 digests
 * so their lengths leak nothing either, and never logged or echoed.
 * Guessing is slowed down (failed-attempts.ts).
 */
import { isIP } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { isDashboardPath } from '../dashboard/dashboard-routes.js';
import { HttpError, sendError } from '../http/http-error.js';
import { registerSessionRoutes, SESSION_PATH, sessionFromCookie } from './dashboard-session.js';
import { FailedAttempts, refuseWhileWaiting } from './failed-attempts.js';
import { digest, matchesDigest, presentedToken } from './token-digest.js';

export { presentedToken } from './token-digest.js';

/** Paths answered without a token: they carry no run data. */
const OPEN_PATHS = new Set(['/api/v1/health']);
/** Methods a session cookie may authorise: reads only, so a cookie can never write a run. */
const COOKIE_METHODS = new Set(['GET', 'HEAD']);

/** Whether a host to listen on is loopback-only (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost' || bare === '::1') return true;
  return isIP(bare) === 4 && bare.startsWith('127.');
}

export function registerTokenAuth(
  app: FastifyInstance,
  token: string,
  maxFailedAttempts?: number,
): void {
  const expected = digest(token);
  const failures = new FailedAttempts(maxFailedAttempts);
  const session = registerSessionRoutes(app, expected, token, failures);
  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    if (OPEN_PATHS.has(path) || path === SESSION_PATH) return;
    if (isDashboardPath(path) && COOKIE_METHODS.has(request.method)) return;
    if (refuseWhileWaiting(failures, request.ip, reply)) return reply;
    const presented = presentedToken(request.headers.authorization);
    if (presented !== undefined && matchesDigest(presented, expected)) return;
    let guessed = presented !== undefined;
    if (presented === undefined && COOKIE_METHODS.has(request.method)) {
      const cookie = sessionFromCookie(request.headers.cookie);
      if (cookie !== undefined && matchesDigest(cookie, session)) return;
      guessed = cookie !== undefined;
    }
    // Only a wrong token or cookie is a guess; a request with none (a page not logged in yet) is not.
    if (guessed) failures.record(request.ip, Date.now());
    return sendError(
      reply,
      new HttpError(
        401,
        'unauthorized',
        presented === undefined
          ? 'this server needs a token: send Authorization: Bearer <token> (LIVESTEP_TOKEN for the HTTP sink; DVC_STUDIO_TOKEN for DVCLive; the dashboard page asks for it)'
          : "the token is not this server's; check LIVESTEP_TOKEN (or DVC_STUDIO_TOKEN)",
      ),
    );
  });
}
