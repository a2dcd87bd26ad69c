/**
 * `livestep serve`: the tracking server in this process, until SIGINT or SIGTERM. Then it stops
 * accepting, answers and commits what it acknowledged, ends the live streams and exits 0; a
 * second signal exits at once (1).
 */
import {
  createServer,
  DEFAULT_LIVENESS,
  DEFAULT_PORT,
  resolveDataDirectory,
} from '@livestep/server';

export interface ServeOptions {
  port?: string;
  host?: string;
  data?: string;
  token?: string;
  /** Seconds, as typed: see parseSeconds. */
  'stale-after'?: string;
  'interrupted-after'?: string;
}

/** A whole or decimal number of seconds, above 0 and at most a week, as milliseconds. */
function parseSeconds(flag: string, text: string): number {
  const seconds = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !(seconds > 0) || seconds > 7 * 24 * 3600) {
    throw new Error(
      `livestep: --${flag} takes seconds, above 0 and at most a week (604800), e.g. --${flag} 30; got ${JSON.stringify(text)}`,
    );
  }
  return Math.round(seconds * 1000);
}

/** The liveness flags as the server's policy (only those given; the server's defaults fill in). */
function parseLiveness(options: ServeOptions): {
  staleAfterMs?: number;
  interruptedAfterMs?: number;
} {
  const liveness: { staleAfterMs?: number; interruptedAfterMs?: number } = {};
  const stale = options['stale-after'];
  const interrupted = options['interrupted-after'];
  if (stale !== undefined) liveness.staleAfterMs = parseSeconds('stale-after', stale);
  if (interrupted !== undefined) {
    liveness.interruptedAfterMs = parseSeconds('interrupted-after', interrupted);
  }
  const staleAfterMs = liveness.staleAfterMs ?? DEFAULT_LIVENESS.staleAfterMs;
  const interruptedAfterMs = liveness.interruptedAfterMs ?? DEFAULT_LIVENESS.interruptedAfterMs;
  if (interruptedAfterMs <= staleAfterMs) {
    throw new Error(
      `livestep: --interrupted-after (${interruptedAfterMs / 1000} s) must be longer than --stale-after (${staleAfterMs / 1000} s): a silent run is stale first, then interrupted`,
    );
  }
  return liveness;
}

function parsePort(text: string | undefined): number {
  if (text === undefined) return DEFAULT_PORT;
  const port = Number(text);
  if (!/^\d{1,5}$/.test(text) || port > 65_535) {
    throw new Error(
      `livestep: --port takes a port number (0 for a free one), got ${JSON.stringify(text)}`,
    );
  }
  return port;
}

export async function serve(
  options: ServeOptions,
  environment: NodeJS.ProcessEnv,
  output: { out: (text: string) => void; error: (text: string) => void },
): Promise<number> {
  let port: number;
  let liveness: ReturnType<typeof parseLiveness>;
  try {
    port = parsePort(options.port);
    liveness = parseLiveness(options);
  } catch (error) {
    output.error(`${(error as Error).message}\n`);
    return 2;
  }
  const dataDirectory = resolveDataDirectory(options.data, environment);
  const token = options.token || environment.LIVESTEP_SERVER_TOKEN || undefined;
  let server: Awaited<ReturnType<typeof createServer>>;
  try {
    server = await createServer({
      port,
      dataDirectory,
      ...(options.host !== undefined && { host: options.host }),
      ...(token !== undefined && { token }),
      ...(Object.keys(liveness).length > 0 && { liveness }),
    });
  } catch (error) {
    const code = (error as { code?: string }).code;
    const message =
      code === 'EADDRINUSE'
        ? `livestep: port ${port} is in use; pass --port <another> (or --port 0 for a free one)`
        : (error as Error).message;
    output.error(`${message}\n`);
    return 2;
  }
  output.out(
    `livestep server listening on ${server.url}\n` +
      `  data: ${dataDirectory}\n` +
      `  stream runs here: LIVESTEP_URL=${server.url}${token ? ' LIVESTEP_TOKEN=<the token>' : ''}\n` +
      `  from Python DVCLive: DVC_STUDIO_URL=${server.url} DVC_STUDIO_TOKEN=${token ? '<the token>' : 'any'}\n` +
      '  Ctrl-C to stop\n',
  );
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        output.error(`livestep: ${signal} again, exiting without waiting\n`);
        process.exit(1);
      }
      stopping = true;
      output.out(`livestep server: ${signal}, stopping (finishing what it acknowledged)\n`);
      server.close().then(
        () => {
          output.out('livestep server: stopped\n');
          resolve(0);
        },
        (error: unknown) => {
          output.error(`livestep server: ${(error as Error).message}\n`);
          resolve(1);
        },
      );
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
