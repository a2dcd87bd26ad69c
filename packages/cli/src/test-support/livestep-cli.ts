/** The built CLI (dist/cli.js) as real processes: one command run to its end, or `livestep serve`. */
import { resolve } from 'node:path';
import {
  type NodeScriptOptions,
  type NodeScriptOutcome,
  runNodeScript,
  startNodeScript,
} from '@livestep/test-support';

export const cliPath = resolve(import.meta.dirname, '..', '..', 'dist', 'cli.js');
/** A server that has not printed its URL in this long is not starting. */
const SERVE_START_TIMEOUT_MS = 20_000;

/** Runs `livestep <args>` without the test's own livestep environment (LIVESTEP_URL, tokens). */
export function runLivestep(
  args: string[],
  environment: Record<string, string> = {},
  options: NodeScriptOptions = {},
): Promise<NodeScriptOutcome> {
  return runNodeScript(cliPath, {
    timeoutMs: 30_000,
    ...options,
    args,
    env: { LIVESTEP_URL: '', LIVESTEP_TOKEN: '', LIVESTEP_SERVER_TOKEN: '', ...environment },
  });
}

/**
 * Starts `livestep serve --port <port, default 0: a free one> <args>` (killed when its test
 * ends); `url` resolves once it prints the address it listens on.
 */
export function startServe(args: string[], environment: Record<string, string> = {}, port = 0) {
  const serve = startNodeScript(cliPath, {
    args: ['serve', '--port', String(port), ...args],
    env: { LIVESTEP_SERVER_TOKEN: '', ...environment },
    timeoutMs: 120_000,
  });
  const url = serve
    .waitForStdout(/listening on (http:\/\/\S+)/, SERVE_START_TIMEOUT_MS)
    .then((match) => match[1]!);
  const exited = serve.exited.then((outcome) => outcome.code);
  return { child: serve.child, url, exited, output: serve.stdout, errors: serve.stderr };
}
