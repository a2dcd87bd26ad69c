// Dioptra's status rules and the session: which answers are retried, which refuse one point and
// which stop posting, each message naming the setting to fix; the cookies a login sets are kept
// (every Set-Cookie, attributes dropped) and, with the password, never shown.
import { describe, expect, it } from 'vitest';
import type { PostResult } from '../../delivery/post-request.js';
import { REDACTED } from '../../delivery/redact.js';
import { resolveDioptraConfig } from './dioptra-config.js';
import {
  DioptraSession,
  type DioptraTransport,
  judgeDioptraAnswer,
  loginToDioptra,
} from './dioptra-request.js';

const PASSWORD = 'SECRET-password-123';

function transport(withLogin = true, fetchFunction?: typeof fetch): DioptraTransport {
  const config = resolveDioptraConfig({
    environment: {
      DIOPTRA_API: 'http://127.0.0.1:5000',
      DIOPTRA_JOB_ID: '5',
      ...(withLogin && { DIOPTRA_USERNAME: 'me', DIOPTRA_PASSWORD: PASSWORD }),
    },
  });
  return {
    config,
    session: new DioptraSession(config.login?.password),
    fetch: fetchFunction,
    timeoutMs: 1000,
  };
}

function answer(status: number, body: unknown, headers: Record<string, string> = {}): PostResult {
  return {
    answered: true,
    status,
    headers,
    body: Buffer.from(JSON.stringify(body)),
    complete: true,
    truncated: false,
  };
}

const dioptraError = (message: string) => ({
  error: 'X',
  message,
  detail: {},
  originating_path: '/api/v1/jobs/5/metrics',
});

describe('the Dioptra session', () => {
  it('keeps each cookie a login sets (attributes dropped, an emptied one removed) and redacts them', () => {
    const session = new DioptraSession(PASSWORD);
    expect(session.cookieHeader).toBeUndefined();
    session.store([
      'dioptra_remember_token=1|abcdef0123456789; Expires=Tue, 15 Dec 2099 00:00:00 GMT; HttpOnly; Path=/',
      'session=eyJfZnJlc2giOnRydWV9.Z1.abc; HttpOnly; Path=/',
    ]);
    expect(session.cookieHeader).toBe(
      'dioptra_remember_token=1|abcdef0123456789; session=eyJfZnJlc2giOnRydWV9.Z1.abc',
    );
    expect(session.redact(`cookie session=eyJfZnJlc2giOnRydWV9.Z1.abc and ${PASSWORD}`)).toBe(
      `cookie session=${REDACTED} and ${REDACTED}`,
    );
    session.store(['session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/']);
    expect(session.cookieHeader).toBe('dioptra_remember_token=1|abcdef0123456789');
  });

  it('logs in with {username, password} and takes every Set-Cookie of the answer', async () => {
    const sent: Array<{ url: string; body: string }> = [];
    const fakeFetch: typeof fetch = async (input, init) => {
      sent.push({ url: String(input), body: String(init?.body) });
      const headers = new Headers({ 'content-type': 'application/json' });
      headers.append('set-cookie', 'dioptra_remember_token=r-0123456789; Path=/');
      headers.append('set-cookie', 'session=s-0123456789; Path=/');
      return new Response(JSON.stringify({ username: 'me', status: 'Login successful' }), {
        status: 200,
        headers,
      });
    };
    const target = transport(true, fakeFetch);
    const outcome = await loginToDioptra(target, new AbortController().signal, 1000);
    expect(outcome).toEqual({ verdict: 'delivered' });
    expect(sent).toEqual([
      {
        url: 'http://127.0.0.1:5000/api/v1/auth/login',
        body: JSON.stringify({ username: 'me', password: PASSWORD }),
      },
    ]);
    expect(target.session.cookieHeader).toBe(
      'dioptra_remember_token=r-0123456789; session=s-0123456789',
    );
  });

  it('retries a login answered without a cookie', async () => {
    const fakeFetch: typeof fetch = async () => new Response('{}', { status: 200 });
    const outcome = await loginToDioptra(
      transport(true, fakeFetch),
      new AbortController().signal,
      1000,
    );
    expect(outcome).toMatchObject({ verdict: 'retry', reason: /without a session cookie/ });
  });
});

describe("Dioptra's status rules", () => {
  it('retries 408, 429 and 5xx, with Retry-After', () => {
    for (const status of [408, 429, 500, 502, 503, 504]) {
      expect(
        judgeDioptraAnswer(answer(status, dioptraError('busy')), transport(), 'metrics'),
      ).toMatchObject({
        verdict: 'retry',
      });
    }
    expect(
      judgeDioptraAnswer(
        answer(429, dioptraError('slow down'), { 'retry-after': '3' }),
        transport(),
        'metrics',
      ),
    ).toMatchObject({ verdict: 'retry', retryAfterMs: 3000, reason: /429: slow down/ });
  });

  it('refuses one point at a 400 (quoting Dioptra), and stops at 401, 403, 404 and a redirect', () => {
    expect(
      judgeDioptraAnswer(
        answer(400, dioptraError('name: String does not match')),
        transport(),
        'metrics',
      ),
    ).toMatchObject({
      verdict: 'permanent',
      status: 400,
      stopsPosting: false,
      message: 'name: String does not match',
    });
    const stops: Array<[number, 'login' | 'metrics', boolean, RegExp]> = [
      [
        401,
        'login',
        true,
        /refused the login \(401: bad\); check DIOPTRA_USERNAME and DIOPTRA_PASSWORD/,
      ],
      [401, 'metrics', true, /refused the session .*after a fresh login/],
      [
        401,
        'metrics',
        false,
        /wants a login \(401: bad\); set DIOPTRA_USERNAME and DIOPTRA_PASSWORD/,
      ],
      [403, 'metrics', true, /may not write to job 5/],
      [404, 'metrics', true, /no job 5 \(check DIOPTRA_JOB_ID\)/],
      [404, 'login', true, /is DIOPTRA_API the server, without \/api\/v1/],
      [302, 'metrics', true, /a redirect, not followed/],
    ];
    for (const [status, call, withLogin, reason] of stops) {
      expect(
        judgeDioptraAnswer(answer(status, dioptraError('bad')), transport(withLogin), call),
      ).toMatchObject({
        verdict: 'permanent',
        status,
        stopsPosting: true,
        reason,
      });
    }
  });

  it('never shows the password or a cookie a server echoes back', () => {
    const target = transport();
    target.session.store(['session=s-0123456789abcdef; Path=/']);
    const outcome = judgeDioptraAnswer(
      answer(400, dioptraError(`bad ${PASSWORD} session=s-0123456789abcdef`)),
      target,
      'metrics',
    );
    expect(JSON.stringify(outcome)).not.toContain(PASSWORD);
    expect(JSON.stringify(outcome)).not.toContain('s-0123456789abcdef');
  });

  it('retries no answer at all', () => {
    expect(
      judgeDioptraAnswer(
        { answered: false, reason: 'network', cause: 'ECONNREFUSED' },
        transport(),
        'metrics',
      ),
    ).toMatchObject({
      verdict: 'retry',
      reason: /cannot reach http:\/\/127.0.0.1:5000 \(ECONNREFUSED\)/,
    });
  });
});
