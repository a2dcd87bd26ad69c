/**
 * `livestep serve`: the tracking server in this process, until SIGINT or SIGTERM. Then it stops
 * accepting, answers and commits what it acknowledged, ends the live streams and exits 0; a
 * second signal exits at once (1).
 */
import { createServer, DEFAULT_PORT, resolveDataDirectory } from '@livestep/server';

export interface ServeOptions {
  port?: string;
  host?: string;
  data?: string;
  token?: string;
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
  try {
    port = parsePort(options.port);
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
