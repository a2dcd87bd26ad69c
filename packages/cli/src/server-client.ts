/**
 * Reading a running livestep server for `ls` and `show`: LIVESTEP_URL (or --url) and
 * LIVESTEP_TOKEN, errors that say what to do.
 */

/** Where `ls` and `show` look when neither --url nor LIVESTEP_URL says. */
export const DEFAULT_SERVER_URL = 'http://127.0.0.1:4318';
/** A query that has not answered in this long is given up. */
const QUERY_TIMEOUT_MS = 30_000;

export interface ServerClient {
  url: string;
  get(path: string): Promise<Record<string, unknown>>;
}

export function serverClient(
  url: string | undefined,
  environment: NodeJS.ProcessEnv,
): ServerClient {
  const base = (url || environment.LIVESTEP_URL || DEFAULT_SERVER_URL).replace(/\/+$/, '');
  const headers: Record<string, string> = {};
  if (environment.LIVESTEP_TOKEN) headers.authorization = `Bearer ${environment.LIVESTEP_TOKEN}`;
  return {
    url: base,
    async get(path) {
      let response: Response;
      try {
        response = await fetch(`${base}${path}`, {
          headers,
          signal: AbortSignal.timeout(QUERY_TIMEOUT_MS),
        });
      } catch (error) {
        const cause =
          (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
        throw new Error(
          `livestep: cannot reach the server at ${base} (${cause}); start one with \`livestep serve\`, or set LIVESTEP_URL / --url`,
        );
      }
      const text = await response.text();
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        // reported below
      }
      if (response.status === 401) {
        throw new Error(
          `livestep: the server at ${base} refused the token; set LIVESTEP_TOKEN to its token`,
        );
      }
      if (!response.ok) {
        throw new Error(
          `livestep: the server answered ${response.status}: ${String(body.message ?? text.slice(0, 300))}`,
        );
      }
      return body;
    },
  };
}
