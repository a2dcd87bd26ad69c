#!/usr/bin/env node
/**
 * The livestep command line.
 *
 *   livestep sync <run folder | record.jsonl | folder of records>... [--to <url> | --to studio]
 */
import { parseArgs } from 'node:util';
import { isTruthy } from '@livestep/core';
import { createProgressDisplay } from './progress.js';
import { findRecordedRuns } from './recorded-runs.js';
import { syncToServer } from './sync-to-server.js';
import { syncToStudio } from './sync-to-studio.js';

const USAGE = `Usage: livestep <command> [options]

Commands:
  sync <source>...   Replay recorded runs to a livestep server or to DVC Studio.
                     <source> is a run folder (DVCLive layout), a .jsonl record (from the JSONL
                     sink or an HTTP sink spool), or a folder of .jsonl records.

Options for sync:
  --to <url>         a livestep server (default: LIVESTEP_URL); token from LIVESTEP_TOKEN
  --to studio        DVC Studio; token and settings from DVC_STUDIO_* (see @livestep/studio)
  --experiment <x>   experiment for a run folder (default: the name of its parent folder)
  --name <x>         run name for a run folder (default: the folder's name)
  --quiet            no progress output
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
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    process.stderr.write(`livestep: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const [command, ...sources] = parsed.positionals;
  if (parsed.values.help || command === undefined) {
    process.stdout.write(USAGE);
    return command === undefined && !parsed.values.help ? 2 : 0;
  }
  if (command !== 'sync') {
    process.stderr.write(`livestep: unknown command "${command}"\n\n${USAGE}`);
    return 2;
  }
  if (sources.length === 0) {
    process.stderr.write(`livestep: sync needs a run folder or a .jsonl record\n\n${USAGE}`);
    return 2;
  }
  const to = (parsed.values.to as string | undefined) || environment.LIVESTEP_URL || undefined;
  if (to === undefined) {
    process.stderr.write(
      'livestep: sync needs a target: --to <url>, --to studio, or LIVESTEP_URL\n',
    );
    return 2;
  }

  let failed = 0;
  for (const source of sources) {
    let runs: ReturnType<typeof findRecordedRuns>;
    try {
      runs = findRecordedRuns(source, {
        ...(parsed.values.experiment !== undefined && {
          experiment: parsed.values.experiment as string,
        }),
        ...(parsed.values.name !== undefined && { name: parsed.values.name as string }),
        onWarning: (message) => process.stderr.write(`${message}\n`),
      });
    } catch (error) {
      process.stderr.write(`${(error as Error).message}\n`);
      failed++;
      continue;
    }
    const display = createProgressDisplay(`sync ${source}`, parsed.values.quiet ? 'quiet' : 'auto');
    const result =
      to === 'studio'
        ? await syncToStudio(runs, environment, display.update)
        : await syncToServer(
            runs,
            {
              url: to,
              ...(environment.LIVESTEP_TOKEN && { token: environment.LIVESTEP_TOKEN }),
              allowInsecureHttp: isTruthy(environment.LIVESTEP_ALLOW_INSECURE_HTTP),
            },
            display.update,
          );
    display.stop();
    const names = runs.map((run) => `"${run.run.name}"`).join(', ');
    process.stdout.write(
      `${source}: ${runs.length} run(s) (${names}): ${result.delivered} events stored, ${result.failed} failed\n`,
    );
    for (const error of result.errors) process.stderr.write(`${error}\n`);
    if (result.failed > 0) failed++;
  }
  return failed > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`livestep: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  },
);
