/**
 * The URL policy of the sinks that post to a server: which addresses may take a token, and how an
 * address is shown in a message. Plain http is allowed only to loopback addresses, unless
 * explicitly allowed, so a token never crosses a network in clear text; a URL is never shown with
 * its user name, password or query.
 */

/** The ingest path of a livestep server, under LIVESTEP_URL. */
export const INGEST_PATH = '/api/v1/batches';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** Whether a URL's hostname is a loopback address (localhost, 127.x.x.x, ::1). */
export function isLoopbackHostname(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/**
 * A URL as it may be shown: without the user name and password (even when the rest does not
 * parse, where everything before the last `@` of the authority is taken for them) and without
 * its query, which may carry a key.
 */
export function describeUrlSafely(url: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url)?.[0] ?? '';
  let rest = url.slice(scheme.length);
  const query = rest.search(/[?#]/);
  if (query !== -1) rest = `${rest.slice(0, query)}?[query hidden]`;
  const at = rest.lastIndexOf('@');
  if (at !== -1) rest = `[credentials hidden]@${rest.slice(at + 1)}`;
  return `${scheme}${rest}`;
}

/** Checks LIVESTEP_URL and returns the ingest endpoint; throws a clear error naming the fix. */
export function resolveIngestUrl(url: string, allowInsecureHttp = false): URL {
  let base: URL;
  try {
    base = new URL(url);
  } catch {
    throw new TypeError(
      `livestep: LIVESTEP_URL ${JSON.stringify(describeUrlSafely(url))} is not a URL; use e.g. http://127.0.0.1:4318`,
    );
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new TypeError(`livestep: LIVESTEP_URL must be http or https, got ${base.protocol}`);
  }
  if (base.username || base.password) {
    throw new TypeError(
      'livestep: LIVESTEP_URL must not contain credentials; put the token in LIVESTEP_TOKEN',
    );
  }
  if (base.protocol === 'http:' && !isLoopbackHostname(base.hostname) && !allowInsecureHttp) {
    throw new TypeError(
      `livestep: refusing plain http to ${base.hostname} (only loopback addresses may use http); use https, or set LIVESTEP_ALLOW_INSECURE_HTTP=1 to allow it`,
    );
  }
  const path = base.pathname.replace(/\/+$/, '');
  return new URL(`${base.origin}${path}${INGEST_PATH}`);
}

/** Where a redirect points, as may be shown: its origin only (never credentials, path or query). */
export function describeLocation(location: string | undefined, base: URL): string {
  if (location === undefined || location.trim() === '') return 'no address (no Location header)';
  try {
    const target = new URL(location, base);
    return target.origin === 'null' ? `a ${target.protocol} address` : target.origin;
  } catch {
    return 'an address that does not parse';
  }
}
