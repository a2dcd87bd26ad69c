/**
 * The server benchmarks' shared harness: build @livestep/server and the livestep CLI when their
 * dist/ is missing, start a real `livestep serve` process on a free port with its own data
 * folder, and stop it the way a user does (SIGTERM, then wait for the exit).
 *
 *   import { ensureBuilt, importServer, startServe, stopServe } from './lib/serve-process.mjs';
 *   ensureBuilt();                                  // server + cli, as the serve process needs
 *   const { SqliteRunStore } = await importServer(); // the store, for in-process baselines
 *   const { child, url } = await startServe({ data: join(work, 'data') });
 *   try { ... fetch(`${url}/api/v1/...`) ... } finally { await stopServe(child); }
 *
 * Every server benchmark uses it. @livestep/server and the livestep CLI are dependencies of this
 * folder (`pnpm bench` builds them first); a benchmark run on its own builds a missing dist/ with
 * tsup, as `pnpm build` does.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root folder (this file is bench/src/lib/serve-process.mjs). */
export const repositoryRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** How long `livestep serve` may take to print its URL: a cold start on the loaded 2-core VM is ~1 s. */
const START_TIMEOUT_MS = 30_000;
/** How long a SIGTERMed server may take to finish what it acknowledged before it is SIGKILLed. */
const STOP_TIMEOUT_MS = 30_000;
/** What `livestep serve` prints once it listens: `... listening on http://127.0.0.1:PORT`. */
const LISTENING = /listening on (http:\/\/\S+)/;

/** Builds packages/<name> for each name whose dist/index.js is missing (tsup, as `pnpm build` does). */
export function ensureBuilt(names = ['server', 'cli']) {
  for (const name of names) {
    const folder = join(repositoryRoot, 'packages', name);
    if (existsSync(join(folder, 'dist', 'index.js'))) continue;
    console.log(`building packages/${name} (its dist/ is missing)`);
    const result = spawnSync(
      process.execPath,
      [join(repositoryRoot, 'node_modules', 'tsup', 'dist', 'cli-default.js')],
      { cwd: folder, stdio: 'inherit' },
    );
    if (result.status !== 0) throw new Error(`could not build packages/${name}`);
  }
}

/** @livestep/server's built entry (createServer, SqliteRunStore, ...), built first if missing. */
export async function importServer() {
  ensureBuilt(['server']);
  return import('@livestep/server');
}

/** The livestep CLI's executable, as this folder's dependency installs it. */
function cliPath() {
  const require = createRequire(import.meta.url);
  const manifestPath = require.resolve('livestep/package.json');
  const { bin } = require(manifestPath);
  return join(dirname(manifestPath), typeof bin === 'string' ? bin : bin.livestep);
}

/**
 * Starts `livestep serve --port 0 --data <data>` (plus `args`; `nodeArgs` go to node itself, such
 * as `--cpu-prof`, which NODE_OPTIONS refuses) without a token, its stdout piped
 * (to read its URL) and its stderr shared. Resolves `{ child, url }` once it listens; rejects when
 * it exits first or does not listen within START_TIMEOUT_MS (and then kills it).
 */
export function startServe({ data, args = [], env = {}, nodeArgs = [] }) {
  const child = spawn(
    process.execPath,
    [...nodeArgs, cliPath(), 'serve', '--port', '0', '--data', data, ...args],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, LIVESTEP_SERVER_TOKEN: '', ...env },
    },
  );
  let output = '';
  return new Promise((resolve, reject) => {
    const fail = (error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    };
    const timer = setTimeout(
      () => fail(new Error(`livestep serve did not listen within ${START_TIMEOUT_MS} ms`)),
      START_TIMEOUT_MS,
    );
    child.once('error', fail);
    child.once('exit', (code, signal) => {
      fail(new Error(`livestep serve exited (${signal ?? `code ${code}`}) before listening`));
    });
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const match = LISTENING.exec(output);
      if (match) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        child.removeAllListeners('error');
        // Keep reading its stdout so a chatty server never blocks on a full pipe.
        child.stdout.removeAllListeners('data');
        child.stdout.resume();
        resolve({ child, url: match[1] });
      }
    });
  });
}

/** Stops a server started by startServe: SIGTERM, then SIGKILL past STOP_TIMEOUT_MS; resolves on exit. */
export function stopServe(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    child.once('exit', () => {
      clearTimeout(killer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
