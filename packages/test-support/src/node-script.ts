/**
 * Scripts run as a user runs them: a real Node process (a small ES module written to a fresh
 * temporary folder, importing the built packages), its stdout and stderr collected, its end
 * awaited within a bounded time, signalled on cue, and killed when the test that started it ends.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { onTestFinished } from 'vitest';

/** A script that must end by itself is killed after this long, so a hang fails its test. */
export const DEFAULT_SCRIPT_TIMEOUT_MS = 20_000;

export interface NodeScriptOptions {
  /** Node's own flags, before the script's path (e.g. `['--require', preload]`). */
  execArgv?: readonly string[];
  /** Arguments after the script's path. */
  args?: readonly string[];
  cwd?: string;
  /** False: the script gets only `env`, nothing of the test's own environment. */
  inheritEnv?: boolean;
  /** Removed from the test's own environment first (e.g. `/^(LIVESTEP_|DVC_STUDIO_)/`). */
  removeEnv?: RegExp;
  /** Set over the test's own environment; a variable given as `undefined` is removed. */
  env?: Record<string, string | undefined>;
  /** Run in a pseudo-terminal (util-linux `script`): stdout then carries both streams. */
  terminal?: boolean;
  /**
   * Rewrites the command line (`[node, ...execArgv, script, ...args]`) before it is started, e.g. to run it
   * under `bash -c 'ulimit ...; exec "$@"'`.
   */
  wrap?: (argv: string[]) => string[];
  /** In a process group of its own, so a signal sent to the group cannot reach the tests. */
  detached?: boolean;
  /** Killed (SIGKILL) after this long, with `timedOut` set. */
  timeoutMs?: number;
  /** Sends `signal` once stdout contains `whenStdoutHas`. */
  signal?: { signal: NodeJS.Signals; whenStdoutHas: string };
  /** Rejects, naming the exit code and quoting stderr, unless the script exits with code 0. */
  expectSuccess?: boolean;
}

export interface NodeScriptOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Both, as they came. */
  output: string;
  /** True when the script did not end within `timeoutMs` and was killed. */
  timedOut: boolean;
  /** ms from the start to the exit. */
  durationMs: number;
  /** After a signal (`kill()` or `options.signal`): ms from sending the last one to the exit. */
  exitMsAfterSignal?: number;
}

export interface NodeScript {
  readonly child: ChildProcess;
  /** What the script printed so far. */
  stdout(): string;
  stderr(): string;
  /** Both, as they came. */
  output(): string;
  /**
   * Resolves once stdout has `text` (with the match: `[text]`, or a RegExp's groups); rejects,
   * quoting the output, if the script ends first or `timeoutMs` passes.
   */
  waitForStdout(text: string | RegExp, timeoutMs?: number): Promise<string[]>;
  /** The same, for stdout and stderr together (`output`). */
  waitForOutput(text: string | RegExp, timeoutMs?: number): Promise<string[]>;
  /** Sends `signal` (SIGTERM by default) if the script is still running. */
  kill(signal?: NodeJS.Signals): void;
  /** Settles when the script has exited and its output is read. */
  readonly exited: Promise<NodeScriptOutcome>;
}

/** Scripts still running: killed when their test ends, and when the test process exits. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** A string literal of the file URL of `path`, for an `import` in a generated script. */
export function importUrl(path: string): string {
  return JSON.stringify(pathToFileURL(path).href);
}

/** The ES module build (`dist/index.js`) of `packageName` as the file at `from` resolves it. */
export function builtEntry(packageName: string, from: string | URL): string {
  const manifest = createRequire(from).resolve(`${packageName}/package.json`);
  return join(dirname(manifest), 'dist', 'index.js');
}

/** Throws, saying what to build, unless every one of `paths` exists. */
export function assertBuilt(...paths: string[]): void {
  for (const path of paths) {
    if (!existsSync(path)) {
      throw new Error(`build the package first (npx tsup in its folder): ${path} is missing`);
    }
  }
}

/**
 * Writes a script as `file` (default `scenario.mjs`) in a fresh temporary folder named after
 * `prefix`; `source` may be made from the folder's path (for the files the script writes).
 */
export function writeScript(
  source: string | ((folder: string) => string),
  options: { prefix?: string; file?: string } = {},
): { folder: string; path: string } {
  const folder = mkdtempSync(join(tmpdir(), `livestep-${options.prefix ?? 'script'}-`));
  const path = join(folder, options.file ?? 'scenario.mjs');
  writeFileSync(path, typeof source === 'string' ? source : source(folder));
  return { folder, path };
}

/** Starts `node <script> ...args`; see {@link NodeScriptOptions}. */
export function startNodeScript(script: string, options: NodeScriptOptions = {}): NodeScript {
  const env: NodeJS.ProcessEnv = options.inheritEnv === false ? {} : { ...process.env };
  if (options.removeEnv) {
    for (const name of Object.keys(env)) if (options.removeEnv.test(name)) delete env[name];
  }
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  let argv = [process.execPath, ...(options.execArgv ?? []), script, ...(options.args ?? [])];
  if (options.terminal) {
    argv = ['script', '-qfec', argv.map((part) => JSON.stringify(part)).join(' '), '/dev/null'];
  }
  if (options.wrap) argv = options.wrap(argv);
  const [command, ...args] = argv as [string, ...string[]];
  const startedAt = performance.now();
  const child = spawn(command, args, {
    cwd: options.cwd,
    env,
    detached: options.detached,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  try {
    onTestFinished(() => {
      if (running.has(child)) child.kill('SIGKILL');
    });
  } catch {
    // Started outside a test (in a hook): killed when the test process exits.
  }

  let stdout = '';
  let stderr = '';
  let output = '';
  let timedOut = false;
  let signalledAt: number | undefined;
  let exitedAt: number | undefined;
  let closed = false;
  let pendingSignal = options.signal;
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const listener of listeners) listener();
  };
  const kill = (signal: NodeJS.Signals = 'SIGTERM') => {
    if (exitedAt !== undefined) return;
    signalledAt = performance.now();
    child.kill(signal);
  };
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    output += chunk;
    if (pendingSignal !== undefined && stdout.includes(pendingSignal.whenStdoutHas)) {
      kill(pendingSignal.signal);
      pendingSignal = undefined;
    }
    notify();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    output += chunk;
    notify();
  });
  const deadline = setTimeout(() => {
    if (exitedAt === undefined) {
      timedOut = true;
      child.kill('SIGKILL');
    } else {
      // Exited, but something it started still holds its output open.
      child.stdout!.destroy();
      child.stderr!.destroy();
    }
  }, options.timeoutMs ?? DEFAULT_SCRIPT_TIMEOUT_MS);
  child.on('exit', () => {
    exitedAt = performance.now();
    running.delete(child);
  });

  const exited = new Promise<NodeScriptOutcome>((resolve, reject) => {
    child.on('error', (error) => {
      clearTimeout(deadline);
      running.delete(child);
      closed = true;
      notify();
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(deadline);
      closed = true;
      notify();
      exitedAt ??= performance.now();
      const outcome: NodeScriptOutcome = {
        code,
        signal,
        stdout,
        stderr,
        output,
        timedOut,
        durationMs: exitedAt - startedAt,
      };
      if (signalledAt !== undefined) outcome.exitMsAfterSignal = exitedAt - signalledAt;
      if (options.expectSuccess && code !== 0) {
        const how = timedOut ? 'timed out' : `exited with ${code ?? signal}`;
        reject(new Error(`${script} ${how}:\n${stderr}`));
      } else resolve(outcome);
    });
  });

  /** Resolves once `read()` has `text`, with the match; rejects when the script ends first. */
  const waitFor = (
    read: () => string,
    text: string | RegExp,
    timeoutMs = DEFAULT_SCRIPT_TIMEOUT_MS,
  ): Promise<string[]> => {
    const found = (): string[] | null =>
      typeof text === 'string' ? (read().includes(text) ? [text] : null) : text.exec(read());
    return new Promise<string[]>((resolve, reject) => {
      let match: string[] | null = null;
      const check = () => {
        match = found();
        if (match !== null) finish();
        else if (closed) finish(`the script ended before printing ${text}`);
      };
      const timer = setTimeout(
        () => finish(`no ${text} in the script's output within ${timeoutMs} ms`),
        timeoutMs,
      );
      const finish = (problem?: string) => {
        clearTimeout(timer);
        listeners.delete(check);
        if (problem === undefined) resolve([...(match ?? [])]);
        else reject(new Error(`${problem}; stdout:\n${stdout}\nstderr:\n${stderr}`));
      };
      listeners.add(check);
      check();
    });
  };

  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    output: () => output,
    kill,
    exited,
    waitForStdout: (text, timeoutMs) => waitFor(() => stdout, text, timeoutMs),
    waitForOutput: (text, timeoutMs) => waitFor(() => output, text, timeoutMs),
  };
}

/** Runs `node <script> ...args` to its end; see {@link NodeScriptOptions}. */
export function runNodeScript(
  script: string,
  options: NodeScriptOptions = {},
): Promise<NodeScriptOutcome> {
  return startNodeScript(script, options).exited;
}
