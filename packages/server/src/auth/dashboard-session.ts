/**
 * The dashboard's session: a browser page cannot give an EventSource an Authorization header,
 * so the page sends the token once, to `POST /api/v1/session` (in the header), and the server
 * answers with a cookie the page's script cannot read (HttpOnly), that no other site's page
 * sends (SameSite=Strict), and that authorises reads only (GET, HEAD: the token check refuses it
 * for anything that writes). The cookie holds no token: it is an HMAC of a fixed label under the
 * token, so it stays valid across restarts while the token does, and stops when the token
 * changes. `DELETE /api/v1/session` clears it.
 */
import { createHmac } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { HttpError, sendError } from '../http/http-error.js';
import { type FailedAttempts, refuseWhileWaiting } from './failed-attempts.js';
import { digest, matchesDigest, presentedToken } from './token-digest.js';

export const SESSION_PATH = '/api/v1/session';
export const SESSION_COOKIE = 'livestep_session';
/** How long a browser keeps the session: a working week, then the page asks again. */
const SESSION_MAX_AGE_SECONDS = 7 * 24 * 60 * 60;
const SESSION_LABEL = 'livestep dashboard session v1';

/** The session cookie's value in a Cookie header, if any. */
export function sessionFromCookie(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === SESSION_COOKIE) return value.join('=');
  }
  return undefined;
}

/**
 * Registers the session routes; returns the digest of the one valid cookie value, for the token
 * check to compare against in constant time.
 */
export function registerSessionRoutes(
  app: FastifyInstance,
  expectedToken: Buffer,
  token: string,
  failures: FailedAttempts,
): Buffer {
  const value = createHmac('sha256', token).update(SESSION_LABEL).digest('base64url');
  const cookie = (content: string, maxAge: number) =>
    `${SESSION_COOKIE}=${content}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}`;

  app.post(SESSION_PATH, async (request, reply) => {
    // The page's login form is a place to guess the token too: the same wait applies.
    if (refuseWhileWaiting(failures, request.ip, reply)) return reply;
    const presented = presentedToken(request.headers.authorization);
    if (presented === undefined || !matchesDigest(presented, expectedToken)) {
      if (presented !== undefined) failures.record(request.ip, Date.now());
      return sendError(
        reply,
        new HttpError(
          401,
          'unauthorized',
          presented === undefined
            ? 'send the token once as Authorization: Bearer <token>'
            : "the token is not this server's (the one given to livestep serve --token)",
        ),
      );
    }
    reply
      .header('set-cookie', cookie(value, SESSION_MAX_AGE_SECONDS))
      .header('cache-control', 'no-store');
    return reply.code(204).send();
  });
  app.delete(SESSION_PATH, async (_request, reply) => {
    reply.header('set-cookie', cookie('', 0));
    return reply.code(204).send();
  });
  return digest(value);
}
