#!/usr/bin/env node
/**
 * The livestep command line.
 *
 *   livestep serve [--port 4318] [--host 127.0.0.1] [--data DIR] [--token T] [--stale-after S] [--interrupted-after S]
 *   livestep ls [--experiment x] [--status s] [--filter f] [--sort s] [--limit n] [--json]
 *   livestep show RUN [--json]
 *   livestep sync <run folder | record.jsonl | folder of records>...
 *     [--to <url> | --to studio | --to mlflow | --to clearml | --to dioptra]
 */
import { parseArgs } from 'node:util';
import { isTruthy, resolveIngestUrl } from '@livestep/core/sink-kit';
import { createProgressDisplay } from './progress.js';
import { listRuns, showRun } from './query-commands.js';
import { openRecordedSources, type RecordedSource } from './recorded-runs.js';
import { serve } from './serve-command.js';
import { INTERRUPTED_EXIT_CODE, interruptOnCtrlC, type SyncInterrupt } from './sync-interrupt.js';
import {
  SINK_TARGETS,
  type SinkSyncOptions,
  type SinkTarget,
  syncThroughSink,
} from './sync-through-sink.js';

/** How a sync stops early: Ctrl-C, or a target that takes nothing for a while. */
type SyncStop = SinkSyncOptions & { signal: AbortSignal };

import { emptyResult, type ServerTarget, syncToServer } from './sync-to-server.js';

const COMMANDS = new Set(['serve', 'ls', 'show', 'sync']);

/** Replaced with the package's version when the CLI is built (tsup.config.ts). */
declare const PACKAGE_VERSION: string;

const USAGE = `Usage: livestep <command> [options]

Commands:
  serve              Run a livestep server: ingest (HTTP sink, DVCLive via DVC Studio's api/live),
                     an embedded store, the query API and live stream. Ctrl-C stops it.
  ls                 List the runs on a livestep server (LIVESTEP_URL, or --url).
  show <run>         One run (its id, the start of its id, or its name): params, state, metrics.
  sync <source>...   Replay recorded runs to a livestep server, DVC Studio, MLflow, ClearML or
                     Dioptra.
                     <source> is a run folder (DVCLive layout), a .jsonl record (from the JSONL
                     sink or an HTTP sink spool), or a folder of .jsonl records.

Options for serve:
  --port <n>         port (default 4318; 0 = a free one)
  --host <address>   address to listen on (default 127.0.0.1; another one needs a token)
  --data <dir>       data folder (default LIVESTEP_SERVER_DATA, else ./livestep-server)
  --token <t>        require this token (default LIVESTEP_SERVER_TOKEN, which other users
                     cannot see in the process list)
  --stale-after <s>  a running run silent this many seconds shows as stale (default 120)
  --interrupted-after <s>
                     a run silent this many seconds becomes interrupted (default 3600); it
                     is running again if it sends again

Options for ls and show:
  --url <url>        the server (default LIVESTEP_URL, else http://127.0.0.1:4318); token
                     from LIVESTEP_TOKEN
  --json             the server's JSON instead of a table
  --experiment <x>, --status <s,...>, --filter "<params.lr > 0.01 and eval/acc >= 0.9>",
  --sort <[-]created|name|params.x|metric|max(metric)>, --limit <n>, --metrics <a,b>   (ls)

Options for sync:
  --to <url>         a livestep server (default: LIVESTEP_URL); token from LIVESTEP_TOKEN
  --to studio        DVC Studio; token and settings from DVC_STUDIO_* (see @livestep/studio)
  --to mlflow        MLflow; MLFLOW_TRACKING_URI and its other MLFLOW_* variables
  --to clearml       ClearML; CLEARML_API_HOST, CLEARML_API_ACCESS_KEY, CLEARML_API_SECRET_KEY
  --to dioptra       Dioptra; DIOPTRA_API, DIOPTRA_JOB_ID and the login variables
                     (MLflow gets a new run each time: sync a run there once)
  --experiment <x>   experiment for a run folder (default: the name of its parent folder)
  --name <x>         run name for a run folder (default: the folder's name)
  --give-up-after <s>  stop when the target has taken nothing for this many seconds (default 60)
  --quiet            no progress output
  --version          the version of livestep
  -h, --help         this help
`;

export async function main(
  argv: string[],
  environment: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        to: { type: 'string' },
        experiment: { type: 'string' },
        name: { type: 'string' },
        quiet: { type: 'boolean', default: false },
        'give-up-after': { type: 'string' },
        version: { type: 'boolean', default: false },
        port: { type: 'string' },
        host: { type: 'string' },
        data: { type: 'string' },
        token: { type: 'string' },
        'stale-after': { type: 'string' },
        'interrupted-after': { type: 'string' },
        url: { type: 'string' },
        json: { type: 'boolean', default: false },
        status: { type: 'string' },
        filter: { type: 'string' },
        sort: { type: 'string' },
        limit: { type: 'string' },
        metrics: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    process.stderr.write(`livestep: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const [command, ...sources] = parsed.positionals;
  if (parsed.values.version) {
    process.stdout.write(`${PACKAGE_VERSION}\n`);
    return 0;
  }
  if (command !== undefined && !COMMANDS.has(command)) {
    process.stderr.write(
      `livestep: unknown command "${command}"; the commands are ${[...COMMANDS].join(', ')}\n\n${USAGE}`,
    );
    return 2;
  }
  if (parsed.values.help || command === undefined) {
    process.stdout.write(USAGE);
    return command === undefined && !parsed.values.help ? 2 : 0;
  }
  const output = {
    out: (text: string) => process.stdout.write(text),
    error: (text: string) => process.stderr.write(text),
  };
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const strings = (keys: string[]) =>
    Object.fromEntries(
      keys
        .filter((key) => typeof values[key] === 'string')
        .map((key) => [key, values[key] as string]),
    );
  if (command === 'serve') {
    return serve(
      strings(['port', 'host', 'data', 'token', 'stale-after', 'interrupted-after']),
      environment,
      output,
    );
  }
  if (command === 'ls' || command === 'show') {
    const options = {
      ...strings(['url', 'experiment', 'status', 'filter', 'sort', 'limit', 'metrics']),
      json: values.json === true,
    };
    try {
      return command === 'ls'
        ? await listRuns(options, environment, output)
        : await showRun(sources[0], options, environment, output);
    } catch (error) {
      output.error(`${(error as Error).message}\n`);
      return 1;
    }
  }
  if (sources.length === 0) {
    process.stderr.write(`livestep: sync needs a run folder or a .jsonl record\n\n${USAGE}`);
    return 2;
  }
  const to = (parsed.values.to as string | undefined) || environment.LIVESTEP_URL || undefined;
  if (to === undefined) {
    process.stderr.write(
      'livestep: sync needs a target: --to <url>, --to studio|mlflow|clearml|dioptra, or LIVESTEP_URL\n',
    );
    return 2;
  }

  const giveUpAfter = parsed.values['give-up-after'] as string | undefined;
  const giveUpAfterSeconds = giveUpAfter === undefined ? undefined : Number(giveUpAfter);
  if (
    giveUpAfterSeconds !== undefined &&
    (!Number.isFinite(giveUpAfterSeconds) || giveUpAfterSeconds <= 0)
  ) {
    process.stderr.write(
      `livestep: --give-up-after ${JSON.stringify(giveUpAfter)} is not a number of seconds > 0\n`,
    );
    return 2;
  }
  const giveUpAfterMs = giveUpAfterSeconds === undefined ? undefined : giveUpAfterSeconds * 1000;
  let target: ServerTarget | SinkTarget | undefined = SINK_TARGETS[to];
  if (target === undefined) {
    const problem = explainSyncTarget(
      to,
      parsed.values.to === undefined ? 'LIVESTEP_URL' : '--to',
      environment,
    );
    if (problem !== undefined) {
      process.stderr.write(`${problem}\n`);
      return 2;
    }
    target = {
      url: to,
      ...(environment.LIVESTEP_TOKEN && { token: environment.LIVESTEP_TOKEN }),
      allowInsecureHttp: isTruthy(environment.LIVESTEP_ALLOW_INSECURE_HTTP),
      ...(giveUpAfterMs !== undefined && { giveUpAfterMs }),
    };
  }
  const interrupt: SyncInterrupt = interruptOnCtrlC();
  const stop: SyncStop = {
    signal: interrupt.signal,
    ...(giveUpAfterMs !== undefined && { giveUpAfterMs }),
  };
  if (!('create' in target)) target.signal = interrupt.signal;
  try {
    return await syncSources(sources, parsed.values, environment, target, stop);
  } finally {
    interrupt.dispose();
  }
}

/** Syncs each source in turn; the exit code (1 when any failed, 130 when interrupted). */
async function syncSources(
  sources: string[],
  values: ReturnType<typeof parseArgs>['values'],
  environment: NodeJS.ProcessEnv,
  target: ServerTarget | SinkTarget,
  stop: SyncStop,
): Promise<number> {
  let failed = 0;
  for (const source of sources) {
    let opened: RecordedSource[];
    try {
      opened = openRecordedSources(source, {
        ...(values.experiment !== undefined && {
          experiment: values.experiment as string,
        }),
        ...(values.name !== undefined && { name: values.name as string }),
        onWarning: (message) => process.stderr.write(`${message}\n`),
      });
    } catch (error) {
      process.stderr.write(`${(error as Error).message}\n`);
      failed++;
      continue;
    }
    const display = createProgressDisplay(`sync ${source}`, values.quiet ? 'quiet' : 'auto');
    const listeners = {
      onProgress: display.update,
      onRetry: (message: string) => process.stderr.write(`${message}\n`),
    };
    let result = emptyResult();
    try {
      for (const recorded of opened) {
        result =
          'create' in target
            ? await syncThroughSink(recorded.chunks(), target, environment, listeners, result, stop)
            : await syncToServer(recorded.chunks(), target, listeners, result);
        if (result.stopped !== undefined) break;
      }
    } catch (error) {
      // A record that turns out not to be one, part way through: what came before it was sent.
      result.errors.push((error as Error).message);
      result.failed++;
    }
    display.stop();
    const names = result.runNames.map((name) => `"${name}"`).join(', ');
    process.stdout.write(
      `${source}: ${result.runNames.length} run(s) (${names}): ${result.delivered} events stored, ${result.failed} failed\n`,
    );
    for (const error of result.errors) process.stderr.write(`${error}\n`);
    if (result.stopped !== undefined) {
      process.stderr.write(`${result.stopped}\n`);
      return stop.signal.aborted ? INTERRUPTED_EXIT_CODE : 1;
    }
    if (result.failed > 0) failed++;
  }
  return failed > 0 ? 1 : 0;
}

/**
 * Why `url` cannot be a sync target, naming where it came from (`--to` or LIVESTEP_URL) and the
 * fix; undefined when it can. Never shows credentials a URL carries.
 */
function explainSyncTarget(
  url: string,
  from: string,
  environment: NodeJS.ProcessEnv,
): string | undefined {
  let parsedUrl: URL;
  try {
    parsedUrl = new URL(url);
  } catch {
    return `livestep: ${from} is not a URL (${JSON.stringify(withoutCredentials(url))}); pass http(s)://host:port of a livestep server, or --to studio`;
  }
  const shown = withoutCredentials(url);
  if (parsedUrl.protocol !== 'http:' && parsedUrl.protocol !== 'https:') {
    return `livestep: ${from} ${shown} uses ${parsedUrl.protocol.replace(/:$/, '')}; a livestep server takes http or https (or pass --to studio)`;
  }
  if (parsedUrl.username || parsedUrl.password) {
    return `livestep: ${from} ${shown} carries credentials; put the token in LIVESTEP_TOKEN instead`;
  }
  try {
    resolveIngestUrl(url, isTruthy(environment.LIVESTEP_ALLOW_INSECURE_HTTP));
  } catch (error) {
    return (error as Error).message.replace(/LIVESTEP_URL/g, from);
  }
  return undefined;
}

/** A URL as it may be shown: without user and password (they may hold a token). */
function withoutCredentials(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/?#]*@/i, '$1');
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // A bug of ours, not the user's input: the message, and the stack for a report.
    process.stderr.write(`livestep: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  },
);
