/**
 * The ClearML sink's settings, from its options or the variables ClearML's own SDK reads
 * (backends.md A.1, A.3), each with its `TRAINS_*` alias as the SDK has:
 *
 * - CLEARML_API_HOST: the API server (e.g. http://127.0.0.1:8008, https://api.clear.ml).
 * - CLEARML_API_ACCESS_KEY and CLEARML_API_SECRET_KEY: the credentials `auth.login` trades for a
 *   token (HTTP Basic); or CLEARML_AUTH_TOKEN, a token `auth.login` renews.
 * - CLEARML_WEB_HOST: the web app, for the printed link; unset, it is derived from the API host as
 *   the SDK does (`://api.` → `://app.`, `:8008` → `:8080`).
 * - CLEARML_FILES_HOST: the file server debug images are uploaded to; unset, derived from the web
 *   host as the SDK does (`app.` → `files.`, else port 8081).
 *
 * The secret key, the Basic header and every token only go into the Authorization header; every
 * text shown is redacted of them (clearml-session.ts adds the tokens it is given).
 */
import { isTruthy } from '../../config/environment-config.js';
import { isLoopbackHostname } from '../../delivery/endpoint-url.js';

export interface ClearmlConnectionOptions {
  /** The API server (default: CLEARML_API_HOST). */
  apiHost?: string;
  /** Default: CLEARML_API_ACCESS_KEY. */
  accessKey?: string;
  /** Never shown (default: CLEARML_API_SECRET_KEY). */
  secretKey?: string;
  /** A token to renew instead of keys (default: CLEARML_AUTH_TOKEN). Never shown. */
  authToken?: string;
  /** The web app, for the link to the task (default: CLEARML_WEB_HOST, else derived). */
  webHost?: string;
  /** The file server for debug images (default: CLEARML_FILES_HOST, else derived). */
  filesHost?: string;
  /** The project tasks go into (default: the run's experiment). */
  projectName?: string;
  /** Allow credentials over plain http to a host that is not loopback (default: LIVESTEP_ALLOW_INSECURE_HTTP). */
  allowInsecureHttp?: boolean;
  /** Where unset options are read from (default: process.env). */
  environment?: NodeJS.ProcessEnv;
}

export interface ClearmlConfig {
  /** The API server's base, ending in `/`: calls are `{base}{service}.{action}`. */
  apiBase: URL;
  origin: string;
  webHost: string;
  filesHost: URL;
  /** What `auth.login` is called with: Basic of the keys, or Bearer of the given token. */
  loginAuthorization: string;
  /** Which settings the credentials came from, for messages (never their values). */
  credentialHint: string;
  projectName: string | undefined;
  /** The secrets known before any login: the secret key, the Basic header, the given token. */
  secrets: string[];
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

/** A ClearML variable, or its TRAINS_* alias (the SDK reads both; A.1). */
function clearmlVariable(environment: NodeJS.ProcessEnv, name: string): string | undefined {
  return nonEmpty(environment[`CLEARML_${name}`]) ?? nonEmpty(environment[`TRAINS_${name}`]);
}

function parseHost(value: string, variable: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(
      `livestep: ${variable} is not a URL; use the server's address, e.g. http://127.0.0.1:8008 for the API server`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(
      `livestep: ${variable} must be an http:// or https:// URL, got ${url.protocol}`,
    );
  }
  if (url.username || url.password) {
    throw new TypeError(
      `livestep: ${variable} must not contain credentials; use CLEARML_API_ACCESS_KEY and CLEARML_API_SECRET_KEY`,
    );
  }
  return url;
}

function withoutTrailingSlash(url: URL): string {
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** The web app's address as the SDK derives it from the API host (A.1). */
export function deriveWebHost(apiHost: string): string {
  if (apiHost.includes('://api.')) return apiHost.replace('://api.', '://app.');
  if (apiHost.includes('://demoapi.')) return apiHost.replace('://demoapi.', '://demoapp.');
  if (/:8008(?=\/|$)/.test(apiHost)) return apiHost.replace(/:8008(?=\/|$)/, ':8080');
  return apiHost;
}

/** The file server's address as the SDK derives it from the web host (A.1). */
export function deriveFilesHost(webHost: string): string {
  const url = new URL(webHost);
  if (url.port !== '') {
    url.port = '8081';
    return withoutTrailingSlash(url);
  }
  if (url.hostname.startsWith('app.')) {
    url.hostname = `files.${url.hostname.slice('app.'.length)}`;
    return withoutTrailingSlash(url);
  }
  url.port = '8081';
  return withoutTrailingSlash(url);
}

/** Reads the options, then the environment; throws a clear error naming what to set. */
export function resolveClearmlConfig(options: ClearmlConnectionOptions = {}): ClearmlConfig {
  const environment = options.environment ?? process.env;
  const host = nonEmpty(options.apiHost) ?? clearmlVariable(environment, 'API_HOST');
  if (host === undefined) {
    throw new TypeError(
      'livestep: the ClearML sink needs the API server; set CLEARML_API_HOST (e.g. http://127.0.0.1:8008) or pass { apiHost }',
    );
  }
  const api = parseHost(host, 'CLEARML_API_HOST');
  const accessKey = nonEmpty(options.accessKey) ?? clearmlVariable(environment, 'API_ACCESS_KEY');
  const secretKey = nonEmpty(options.secretKey) ?? clearmlVariable(environment, 'API_SECRET_KEY');
  const authToken = nonEmpty(options.authToken) ?? nonEmpty(environment.CLEARML_AUTH_TOKEN);
  let loginAuthorization: string;
  let credentialHint: string;
  if (accessKey !== undefined && secretKey !== undefined) {
    loginAuthorization = `Basic ${Buffer.from(`${accessKey}:${secretKey}`, 'latin1').toString('base64')}`;
    credentialHint = 'CLEARML_API_ACCESS_KEY and CLEARML_API_SECRET_KEY';
  } else if (authToken !== undefined && accessKey === undefined && secretKey === undefined) {
    loginAuthorization = `Bearer ${authToken}`;
    credentialHint = 'CLEARML_AUTH_TOKEN';
  } else if (accessKey !== undefined || secretKey !== undefined) {
    throw new TypeError(
      `livestep: ClearML credentials need both CLEARML_API_ACCESS_KEY and CLEARML_API_SECRET_KEY; ${accessKey === undefined ? 'CLEARML_API_ACCESS_KEY' : 'CLEARML_API_SECRET_KEY'} is not set`,
    );
  } else {
    throw new TypeError(
      'livestep: the ClearML sink needs credentials; set CLEARML_API_ACCESS_KEY and CLEARML_API_SECRET_KEY (from the web app: Settings > Workspace > Create new credentials), or CLEARML_AUTH_TOKEN',
    );
  }
  const allowInsecureHttp =
    options.allowInsecureHttp ?? isTruthy(environment.LIVESTEP_ALLOW_INSECURE_HTTP);
  if (api.protocol === 'http:' && !isLoopbackHostname(api.hostname) && !allowInsecureHttp) {
    throw new TypeError(
      `livestep: refusing to send ClearML credentials over plain http to ${api.hostname} (CLEARML_API_HOST; only loopback addresses may); use https, or set LIVESTEP_ALLOW_INSECURE_HTTP=1 to allow it`,
    );
  }
  const apiHost = withoutTrailingSlash(api);
  const web = nonEmpty(options.webHost) ?? clearmlVariable(environment, 'WEB_HOST');
  const webHost = withoutTrailingSlash(
    parseHost(web ?? deriveWebHost(apiHost), 'CLEARML_WEB_HOST'),
  );
  const files = nonEmpty(options.filesHost) ?? clearmlVariable(environment, 'FILES_HOST');
  const filesHost = parseHost(files ?? deriveFilesHost(webHost), 'CLEARML_FILES_HOST');
  // Uploads carry the token too.
  if (
    filesHost.protocol === 'http:' &&
    !isLoopbackHostname(filesHost.hostname) &&
    !allowInsecureHttp
  ) {
    throw new TypeError(
      `livestep: refusing to send the ClearML token over plain http to the file server ${filesHost.hostname} (CLEARML_FILES_HOST; only loopback addresses may); use https, or set LIVESTEP_ALLOW_INSECURE_HTTP=1 to allow it`,
    );
  }
  return {
    apiBase: new URL(`${apiHost}/`),
    origin: api.origin,
    webHost,
    filesHost,
    loginAuthorization,
    credentialHint,
    projectName: nonEmpty(options.projectName),
    secrets: [secretKey, authToken, loginAuthorization.split(' ')[1]].filter(
      (secret): secret is string => secret !== undefined,
    ),
  };
}
