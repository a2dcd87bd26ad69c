/**
 * Loop scenarios run as real processes: a small ES module that imports the built package (dist),
 * so exit hooks, uncaught exceptions and terminals behave exactly as for a user.
 */
import { join } from 'node:path';
import type { RunEvent } from '@livestep/core';
import {
  assertBuilt,
  builtEntry,
  importUrl,
  type NodeScriptOptions,
  type NodeScriptOutcome,
  readJournal,
  runNodeScript,
  writeScript,
} from '@livestep/test-support';

const builtPackage = builtEntry('@livestep/loop', import.meta.url);
/** Core's ES module build as this package resolves it, so the child and the package share one copy. */
const builtCore = builtEntry('@livestep/core', import.meta.url);

export interface LoopScriptOutcome extends NodeScriptOutcome {
  /** Every event the run recorded in `journal` (a JSONL file the script's sink writes). */
  events: RunEvent[];
}

export function assertLoopBuilt(): void {
  assertBuilt(builtPackage, builtCore);
}

/**
 * Runs `body` as an ES module with `track`, `trackEach`, `time`, `startTimer` (the built package)
 * and `createHttpSink`, `createJsonlSink`, `startRun` (core) imported, and `journal`, a JSONL
 * sink to record into. NO_COLOR is set.
 */
export async function runLoopScript(
  body: string,
  options: Pick<NodeScriptOptions, 'terminal' | 'env' | 'signal'> = {},
): Promise<LoopScriptOutcome> {
  const { folder, path } = writeScript(
    (folder) => `import { startTimer, time, track, trackEach } from ${importUrl(builtPackage)};
import { createHttpSink, createJsonlSink, startRun } from ${importUrl(builtCore)};
const journal = createJsonlSink({ path: ${JSON.stringify(join(folder, 'run.jsonl'))} });
${body}
`,
    { prefix: 'loop' },
  );
  const outcome = await runNodeScript(path, { ...options, env: { NO_COLOR: '1', ...options.env } });
  return { ...outcome, events: readJournal(join(folder, 'run.jsonl')) };
}
