/**
 * The fake ClearML's authentication (backends.md A.3): auth.login with HTTP Basic access:secret
 * (or a valid Bearer token, as with CLEARML_AUTH_TOKEN) issues a JWT-shaped token for
 * `expiration_sec` (default 30 days, at most a year); every other call takes `Bearer <token>`,
 * the Basic keys, or the `clearml_token_basic` cookie. Errors are ClearML's 401 subcodes.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import {
  type Body,
  FAKE_CLEARML_LIMITS,
  invalid,
  MAX_API_VERSION,
  unauthorized,
} from './fake-clearml-schema.js';

export interface FakeClearmlLogin {
  via: 'basic' | 'bearer';
  expirationSec: number;
  token: string;
  at: number;
}

export class ClearmlAuth {
  /** Every auth.login that issued a token, in order. */
  readonly logins: FakeClearmlLogin[] = [];
  /** Issued token → expiry (epoch ms). */
  private readonly tokens = new Map<string, number>();

  constructor(
    readonly accessKey: string,
    readonly secretKey: string,
  ) {}

  /** Every issued token becomes invalid. */
  expire(): void {
    this.tokens.clear();
  }

  /** Checks the Authorization header (or the session cookie); returns how it authenticated. */
  authorize(request: IncomingMessage): 'basic' | 'bearer' {
    let value = request.headers.authorization;
    if (value === undefined) {
      const cookie = /(?:^|;\s*)clearml_token_basic=([^;]*)/.exec(request.headers.cookie ?? '');
      if (cookie === null) throw unauthorized(20);
      value = `Bearer ${cookie[1]}`;
    }
    const space = value.indexOf(' ');
    const type = space === -1 ? value : value.slice(0, space);
    const data = space === -1 ? '' : value.slice(space + 1).trim();
    if (type === 'Basic') {
      const decoded = Buffer.from(data, 'base64').toString('latin1');
      const colon = decoded.indexOf(':');
      if (data === '' || colon === -1) throw unauthorized(21);
      if (decoded.slice(0, colon) !== this.accessKey || decoded.slice(colon + 1) !== this.secretKey)
        throw unauthorized(22);
      return 'basic';
    }
    if (type === 'Bearer') {
      const expiry = this.tokens.get(data);
      if (expiry === undefined || expiry <= Date.now()) throw unauthorized(30);
      return 'bearer';
    }
    throw unauthorized(10);
  }

  login(request: IncomingMessage, body: Body): Body {
    const via = this.authorize(request);
    const unknown = Object.keys(body).filter((key) => key !== 'expiration_sec');
    if (unknown.length > 0)
      throw invalid(12, `Validation error (auth.login): unknown field ${unknown.join(', ')}`);
    let expirationSec: number = FAKE_CLEARML_LIMITS.defaultExpirationSec;
    if (body.expiration_sec !== undefined) {
      const value = Number(body.expiration_sec);
      if (!Number.isSafeInteger(value) || value <= 0)
        throw invalid(
          12,
          `Validation error (auth.login): expiration_sec must be a positive integer, got ${JSON.stringify(body.expiration_sec)}`,
        );
      expirationSec = Math.min(value, FAKE_CLEARML_LIMITS.maxExpirationSec);
    }
    const now = Date.now();
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    // JWT-shaped (A.3: the SDK reads api_version, server_version and feature_set from its payload).
    const token = [
      encode({ alg: 'HS256', typ: 'JWT' }),
      encode({
        iat: Math.floor(now / 1000),
        exp: Math.floor(now / 1000) + expirationSec,
        api_version: MAX_API_VERSION,
        server_version: '2.0.0',
        feature_set: 'basic',
        identity: { company: 'fake-company', user: 'fake-user', role: 'user' },
      }),
      randomBytes(32).toString('base64url'),
    ].join('.');
    this.tokens.set(token, now + expirationSec * 1000);
    this.logins.push({ via, expirationSec, token, at: now });
    return { token };
  }
}
