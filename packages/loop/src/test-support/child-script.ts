/**
 * Scenarios run as real processes: a small ES module that imports the built package (dist), so
 * exit hooks, uncaught exceptions and terminals behave exactly as for a user.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseJsonl, type RunEvent } from '@livestep/core';

const packageFolder = resolve(import.meta.dirname, '..', '..');
export const builtPackage = join(packageFolder, 'dist', 'index.js');
/** Core's ES module build as this package resolves it, so the child and the package share one copy. */
const builtCore = join(packageFolder, 'node_modules', '@livestep', 'core', 'dist', 'index.js');
/** A child that must exit by itself; a hang fails the test instead of timing it out. */
const CHILD_DEADLINE_MS = 20_000;

export interface ChildOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Every event the run recorded in `journal` (a JSONL file the script's sink writes). */
  events: RunEvent[];
  /** With `signal`: ms from sending it to the child's exit. */
  exitMsAfterSignal?: number;
}

export interface ChildScriptOptions {
  /** Run under `script`, in a pseudo-terminal (stdout then has both streams). */
  terminal?: boolean;
  /** Added to the child's environment. */
  env?: Record<string, string>;
  /** Sends `signal` to the child once its stdout contains `whenStdoutHas`. */
  signal?: { signal: NodeJS.Signals; whenStdoutHas: string };
}

export function assertBuilt(): void {
  if (!existsSync(builtPackage)) {
    throw new Error(`build @livestep/loop first (npx tsup): ${builtPackage} is missing`);
  }
}

/**
 * Runs `body` as an ES module with `track`, `trackEach`, `time`, `startTimer` (the built package)
 * and `createHttpSink`, `createJsonlSink`, `startRun` (core) imported, and `journal`, a JSONL
 * sink to record into.
 */
export function runChildScript(
  body: string,
  options: ChildScriptOptions = {},
): Promise<ChildOutcome> {
  const folder = mkdtempSync(join(tmpdir(), 'livestep-loop-'));
  const journalPath = join(folder, 'run.jsonl');
  const script = join(folder, 'scenario.mjs');
  writeFileSync(
    script,
    `import { startTimer, time, track, trackEach } from ${JSON.stringify(pathToFileURL(builtPackage).href)};
import { createHttpSink, createJsonlSink, startRun } from ${JSON.stringify(pathToFileURL(builtCore).href)};
const journal = createJsonlSink({ path: ${JSON.stringify(journalPath)} });
${body}
`,
  );
  const [command, args] = options.terminal
    ? [
        'script',
        ['-qfec', `${JSON.stringify(process.execPath)} ${JSON.stringify(script)}`, '/dev/null'],
      ]
    : [process.execPath, [script]];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command as string, args as string[], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1', ...options.env },
    });
    let stdout = '';
    let stderr = '';
    let pendingSignal = options.signal;
    let signalledAt: number | undefined;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (pendingSignal !== undefined && stdout.includes(pendingSignal.whenStdoutHas)) {
        child.kill(pendingSignal.signal);
        signalledAt = performance.now();
        pendingSignal = undefined;
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), CHILD_DEADLINE_MS);
    child.on('error', reject);
    let exitedAt = 0;
    child.on('exit', () => {
      exitedAt = performance.now();
    });
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      const events = existsSync(journalPath)
        ? parseJsonl(readFileSync(journalPath, 'utf8')).flatMap((record) => record.events)
        : [];
      const outcome: ChildOutcome = { code, signal, stdout, stderr, events };
      if (signalledAt !== undefined) outcome.exitMsAfterSignal = exitedAt - signalledAt;
      resolvePromise(outcome);
    });
  });
}
