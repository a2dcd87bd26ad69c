/**
 * The Dioptra sink's settings, from its options or the environment:
 *
 * - DIOPTRA_API: the REST API's base URL without `/api/v1` (the variable Dioptra's own client and
 *   workers read; backends.md B.7). A trailing `/api/v1` is taken off.
 * - DIOPTRA_JOB_ID: the job the metrics belong to (Dioptra passes it to a job as an argument, so
 *   there is no variable of its own).
 * - DIOPTRA_USERNAME and DIOPTRA_PASSWORD, else DIOPTRA_WORKER_USERNAME and
 *   DIOPTRA_WORKER_PASSWORD (what a Dioptra worker already has): the login (B.7). Without them
 *   nothing logs in (a server with DIOPTRA_LOGIN_DISABLED).
 *
 * The password goes only into the login body and the session cookie only into the Cookie header;
 * nothing shown ever carries either.
 */
import { isTruthy } from '../../config/environment-config.js';
import { isLoopbackHostname } from '../../delivery/endpoint-url.js';

/** The v1 API's root (dioptra src/dioptra/restapi/routes.py). */
export const DIOPTRA_API_PATH = '/api/v1';

export interface DioptraConnectionOptions {
  /** The Dioptra REST API, e.g. `http://127.0.0.1:5000` (default: DIOPTRA_API). */
  apiUrl?: string;
  /** The job's id (default: DIOPTRA_JOB_ID). */
  jobId?: string | number;
  /** The login (default: DIOPTRA_USERNAME, else DIOPTRA_WORKER_USERNAME). */
  username?: string;
  /** Never shown (default: DIOPTRA_PASSWORD, else DIOPTRA_WORKER_PASSWORD). */
  password?: string;
  /** Allow the login over plain http to a host that is not loopback (default: LIVESTEP_ALLOW_INSECURE_HTTP). */
  allowInsecureHttp?: boolean;
  /** Where unset options are read from (default: process.env). */
  environment?: NodeJS.ProcessEnv;
}

export interface DioptraConfig {
  /** The API base, e.g. `http://127.0.0.1:5000/api/v1/`. */
  apiBase: URL;
  origin: string;
  jobId: string;
  login: { username: string; password: string } | undefined;
  /** Which variables the login came from, for messages (never their values). */
  credentialHint: string;
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

/** Checks the API URL and returns the v1 base; throws a clear error naming the fix. */
export function resolveDioptraApi(url: string, hasLogin: boolean, allowInsecureHttp: boolean): URL {
  let base: URL;
  try {
    base = new URL(url.trim());
  } catch {
    throw new TypeError(
      "livestep: DIOPTRA_API is not a URL; use the Dioptra REST API's address, e.g. http://127.0.0.1:5000",
    );
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new TypeError(`livestep: DIOPTRA_API must be http:// or https://, got ${base.protocol}`);
  }
  if (base.username || base.password) {
    throw new TypeError(
      'livestep: DIOPTRA_API must not contain credentials; use DIOPTRA_USERNAME and DIOPTRA_PASSWORD',
    );
  }
  if (
    base.protocol === 'http:' &&
    hasLogin &&
    !isLoopbackHostname(base.hostname) &&
    !allowInsecureHttp
  ) {
    throw new TypeError(
      `livestep: refusing to send a Dioptra password and session cookie over plain http to ${base.hostname} (only loopback addresses may); use https, or set LIVESTEP_ALLOW_INSECURE_HTTP=1 to allow it`,
    );
  }
  const path = base.pathname.replace(/\/+$/, '').replace(/\/api\/v1$/, '');
  return new URL(`${base.origin}${path}${DIOPTRA_API_PATH}/`);
}

/** Reads the options, then the environment; throws a clear error when they cannot be used. */
export function resolveDioptraConfig(options: DioptraConnectionOptions = {}): DioptraConfig {
  const environment = options.environment ?? process.env;
  const url = nonEmpty(options.apiUrl) ?? nonEmpty(environment.DIOPTRA_API);
  if (url === undefined) {
    throw new TypeError(
      'livestep: the Dioptra sink needs the REST API; set DIOPTRA_API (e.g. http://127.0.0.1:5000) or pass { apiUrl }',
    );
  }
  const jobText =
    nonEmpty(options.jobId === undefined ? undefined : String(options.jobId)) ??
    nonEmpty(environment.DIOPTRA_JOB_ID);
  if (jobText === undefined) {
    throw new TypeError(
      "livestep: the Dioptra sink needs the job the metrics belong to; set DIOPTRA_JOB_ID (the job's number) or pass { jobId }",
    );
  }
  if (!/^[1-9][0-9]*$/.test(jobText)) {
    throw new TypeError(
      `livestep: DIOPTRA_JOB_ID must be a Dioptra job's id (a whole number >= 1), got ${JSON.stringify(jobText.slice(0, 40))}`,
    );
  }
  const own = nonEmpty(environment.DIOPTRA_USERNAME) !== undefined || environment.DIOPTRA_PASSWORD;
  // One account: a login given in code, or DIOPTRA_*, or (neither) the worker's DIOPTRA_WORKER_*;
  // a user name from one place and a password from another would log in as nobody's account.
  const inCode = options.username !== undefined || options.password !== undefined;
  const prefix = inCode || own ? 'DIOPTRA_' : 'DIOPTRA_WORKER_';
  const username = inCode ? nonEmpty(options.username) : nonEmpty(environment[`${prefix}USERNAME`]);
  const rawPassword = inCode ? options.password : environment[`${prefix}PASSWORD`];
  const password = rawPassword === '' ? undefined : rawPassword;
  const credentialHint = inCode
    ? '{ username, password }'
    : `${prefix}USERNAME and ${prefix}PASSWORD`;
  if ((username === undefined) !== (password === undefined)) {
    const missing = inCode
      ? username === undefined
        ? 'username'
        : 'password'
      : username === undefined
        ? `${prefix}USERNAME`
        : `${prefix}PASSWORD`;
    throw new TypeError(
      `livestep: the Dioptra login needs both ${credentialHint}; ${missing} is not set`,
    );
  }
  const login =
    username !== undefined && password !== undefined ? { username, password } : undefined;
  const allowInsecureHttp =
    options.allowInsecureHttp ?? isTruthy(environment.LIVESTEP_ALLOW_INSECURE_HTTP);
  const apiBase = resolveDioptraApi(url, login !== undefined, allowInsecureHttp);
  return { apiBase, origin: apiBase.origin, jobId: jobText, login, credentialHint };
}
