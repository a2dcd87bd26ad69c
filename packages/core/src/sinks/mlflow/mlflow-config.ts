/**
 * The MLflow sink's settings, from its options or the variables MLflow's own clients read:
 * MLFLOW_TRACKING_URI (an http(s) tracking server; a `file:` store or `databricks` is refused
 * with a message that says so), MLFLOW_TRACKING_TOKEN (Bearer) or MLFLOW_TRACKING_USERNAME and
 * MLFLOW_TRACKING_PASSWORD (Basic), MLFLOW_EXPERIMENT_NAME. Credentials go only into the
 * Authorization header; nothing shown ever carries them.
 */
import { isTruthy } from '../../config/environment-config.js';
import { isLoopbackHostname } from '../../delivery/endpoint-url.js';
import { createRedactor } from '../../delivery/redact.js';

/** The REST API's base path on a tracking server (backends.md D.1). */
export const MLFLOW_API_PATH = '/api/2.0/mlflow';

export interface MlflowConnectionOptions {
  /** The tracking server, e.g. `http://127.0.0.1:5000` (default: MLFLOW_TRACKING_URI). */
  trackingUri?: string;
  /** Sent as `Authorization: Bearer <token>` (default: MLFLOW_TRACKING_TOKEN). Never shown. */
  token?: string;
  /** With `password`, sent as HTTP Basic (default: MLFLOW_TRACKING_USERNAME / _PASSWORD). */
  username?: string;
  password?: string;
  /** The experiment runs go into (default: MLFLOW_EXPERIMENT_NAME, else the run's experiment). */
  experimentName?: string;
  /** Allow credentials over plain http to a host that is not loopback (default: LIVESTEP_ALLOW_INSECURE_HTTP). */
  allowInsecureHttp?: boolean;
  /** Where unset options are read from (default: process.env). */
  environment?: NodeJS.ProcessEnv;
}

export interface MlflowConfig {
  /** The API base, e.g. `http://127.0.0.1:5000/api/2.0/mlflow`. */
  apiBase: URL;
  /** The server's origin, as it may be shown. */
  origin: string;
  headers: Record<string, string>;
  /** Which setting the credentials came from, for messages (never their values). */
  credentialHint: string;
  experimentName: string | undefined;
  redact: (text: string) => string;
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

/** Checks the tracking URI and returns the REST API's base; throws a clear error naming the fix. */
export function resolveTrackingUri(
  uri: string,
  hasCredentials: boolean,
  allowInsecureHttp: boolean,
): URL {
  const trimmed = uri.trim();
  if (/^databricks(-uc)?(:|$)/i.test(trimmed)) {
    throw new TypeError(
      'livestep: MLFLOW_TRACKING_URI is "databricks"; the MLflow sink posts to an MLflow tracking server over http(s) and does not read Databricks profiles. Set MLFLOW_TRACKING_URI to the server\'s URL (e.g. https://<workspace>.cloud.databricks.com with MLFLOW_TRACKING_TOKEN), or unset it',
    );
  }
  let base: URL;
  try {
    base = new URL(trimmed);
  } catch {
    const local = /^[./~]|^[a-z]:\\/i.test(trimmed) || !trimmed.includes('://');
    throw new TypeError(
      local
        ? 'livestep: MLFLOW_TRACKING_URI looks like a local folder; the MLflow sink needs a tracking server (http:// or https://, e.g. http://127.0.0.1:5000 from `mlflow server`). The run folder already keeps every metric locally'
        : "livestep: MLFLOW_TRACKING_URI is not a URL; use the tracking server's address, e.g. http://127.0.0.1:5000",
    );
  }
  if (base.protocol === 'file:') {
    throw new TypeError(
      'livestep: MLFLOW_TRACKING_URI is a file: store; the MLflow sink needs a tracking server (http:// or https://, e.g. http://127.0.0.1:5000 from `mlflow server --backend-store-uri file:...`). The run folder already keeps every metric locally',
    );
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new TypeError(
      `livestep: MLFLOW_TRACKING_URI must be an http:// or https:// tracking server, got ${base.protocol}`,
    );
  }
  if (base.username || base.password) {
    throw new TypeError(
      'livestep: MLFLOW_TRACKING_URI must not contain credentials; use MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD',
    );
  }
  const loopback = isLoopbackHostname(base.hostname);
  if (base.protocol === 'http:' && hasCredentials && !loopback && !allowInsecureHttp) {
    throw new TypeError(
      `livestep: refusing to send MLflow credentials over plain http to ${base.hostname} (only loopback addresses may); use https, or set LIVESTEP_ALLOW_INSECURE_HTTP=1 to allow it`,
    );
  }
  const path = base.pathname.replace(/\/+$/, '');
  return new URL(`${base.origin}${path}${MLFLOW_API_PATH}/`);
}

/** The Authorization header for the credentials given (token first), or none. */
export function authorizationHeader(
  token: string | undefined,
  username: string | undefined,
  password: string | undefined,
): string | undefined {
  if (token !== undefined) return `Bearer ${token}`;
  if (username !== undefined && password !== undefined) {
    return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
  }
  return undefined;
}

/** Reads the options, then the environment; throws a clear error when the URI cannot be used. */
export function resolveMlflowConfig(options: MlflowConnectionOptions = {}): MlflowConfig {
  const environment = options.environment ?? process.env;
  const uri = nonEmpty(options.trackingUri) ?? nonEmpty(environment.MLFLOW_TRACKING_URI);
  if (uri === undefined) {
    throw new TypeError(
      'livestep: the MLflow sink needs a tracking server; set MLFLOW_TRACKING_URI (e.g. http://127.0.0.1:5000) or pass { trackingUri }',
    );
  }
  const token = nonEmpty(options.token) ?? nonEmpty(environment.MLFLOW_TRACKING_TOKEN);
  const username = nonEmpty(options.username) ?? nonEmpty(environment.MLFLOW_TRACKING_USERNAME);
  const password = options.password ?? environment.MLFLOW_TRACKING_PASSWORD;
  const usablePassword = password === undefined || password === '' ? undefined : password;
  if (token === undefined && (username === undefined) !== (usablePassword === undefined)) {
    throw new TypeError(
      `livestep: MLflow basic auth needs both MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD; ${username === undefined ? 'MLFLOW_TRACKING_USERNAME' : 'MLFLOW_TRACKING_PASSWORD'} is not set`,
    );
  }
  const authorization = authorizationHeader(token, username, usablePassword);
  const allowInsecureHttp =
    options.allowInsecureHttp ?? isTruthy(environment.LIVESTEP_ALLOW_INSECURE_HTTP);
  const apiBase = resolveTrackingUri(uri, authorization !== undefined, allowInsecureHttp);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json',
    'user-agent': 'livestep-mlflow-sink',
  };
  if (authorization !== undefined) headers.authorization = authorization;
  const credentialHint =
    token !== undefined
      ? 'MLFLOW_TRACKING_TOKEN'
      : authorization !== undefined
        ? 'MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD'
        : 'MLFLOW_TRACKING_TOKEN (or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD); none is set';
  const experimentName =
    nonEmpty(options.experimentName) ?? nonEmpty(environment.MLFLOW_EXPERIMENT_NAME);
  return {
    apiBase,
    origin: apiBase.origin,
    headers,
    credentialHint,
    experimentName,
    // The Basic header's base64 is a secret too: a server may echo the header back.
    redact: createRedactor([
      token,
      usablePassword,
      authorization?.startsWith('Basic ') ? authorization.slice('Basic '.length) : undefined,
    ]),
  };
}
