// Real processes for the end-to-end tests: a `livestep serve` on a free port with its own data
// folder, an example run as a child process, and readers of the query API (full history paged
// by cursor) and of a DVCLive run folder (TSVs, metrics.json, params.yaml, plot files).
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MetricValue } from '@livestep/core';
import { decodeMetricValue } from '@livestep/core/protocol';
import { type NodeScript, startNodeScript } from '@livestep/test-support';

const CLI = fileURLToPath(new URL('../../../packages/cli/dist/cli.js', import.meta.url));
/** A server that has not printed its URL after this is not starting (2 shared cores: generous). */
const SERVER_START_TIMEOUT_MS = 30_000;
/** SIGTERM lets the server commit and close; past this it is killed. */
const SERVER_STOP_TIMEOUT_MS = 10_000;
/** Pages of a history read before giving up: a cursor that never ends is a bug, not a wait. */
const MAX_HISTORY_PAGES = 100_000;
/** One query API request, at most. */
const REQUEST_TIMEOUT_MS = 15_000;

export interface Child {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

/** Every child started here, for killAll() in afterEach. */
const children = new Set<NodeScript>();

/** Starts `node ...args` with exactly `env`, its output collected, killed past the deadline. */
export function startChild(
  [script, ...args]: string[],
  options: { cwd?: string; env: NodeJS.ProcessEnv; deadlineMs: number },
): Child {
  const started = startNodeScript(script!, {
    args,
    cwd: options.cwd,
    inheritEnv: false,
    env: options.env,
    timeoutMs: options.deadlineMs,
  });
  children.add(started);
  const exited = started.exited.then((outcome) => {
    children.delete(started);
    return outcome.code;
  });
  return { child: started.child, output: started.output, exited };
}

/** Kills every child still running (afterEach), and waits for them to exit. */
export async function killAll(): Promise<void> {
  const running = [...children];
  for (const started of running) started.kill('SIGKILL');
  await Promise.all(running.map((started) => started.exited.catch(() => undefined)));
  children.clear();
}

/** The environment of a user with no livestep or Studio settings, plus the ones given. */
export function cleanEnvironment(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) {
    if (/^(LIVESTEP_|DVC_|STUDIO_)/.test(key) || key === 'EPOCHS') delete env[key];
  }
  return { ...env, ...extra };
}

export interface LiveServer extends Child {
  url: string;
  stop: () => Promise<number | null>;
}

/** `livestep serve --port 0 --host 127.0.0.1 --data DIR`, resolved once it prints its URL. */
export async function startServer(dataDirectory: string): Promise<LiveServer> {
  const server = startChild(
    [CLI, 'serve', '--port', '0', '--host', '127.0.0.1', '--data', dataDirectory],
    { env: cleanEnvironment({}), deadlineMs: 10 * 60_000 },
  );
  const deadline = Date.now() + SERVER_START_TIMEOUT_MS;
  let url: string | undefined;
  while (url === undefined) {
    url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(server.output())?.[1];
    if (url !== undefined) break;
    if (server.child.exitCode !== null || Date.now() > deadline) {
      server.child.kill('SIGKILL');
      throw new Error(`livestep serve did not start:\n${server.output()}`);
    }
    await new Promise((done) => setTimeout(done, 50));
  }
  const stop = async () => {
    server.child.kill('SIGTERM');
    const timer = setTimeout(() => server.child.kill('SIGKILL'), SERVER_STOP_TIMEOUT_MS);
    const code = await server.exited;
    clearTimeout(timer);
    return code;
  };
  return { ...server, url, stop };
}

/** GET a query API path as JSON (NaN and the infinities arrive as "nan", "inf", "-inf"). */
// biome-ignore lint/suspicious/noExplicitAny: JSON whose shape the assertions check
export async function getJson(url: string, path: string): Promise<any> {
  const response = await fetch(`${url}${path}`, {
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const body = await response.text();
  if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${body}`);
  return JSON.parse(body);
}

export async function getBytes(
  url: string,
  path: string,
): Promise<{ bytes: Buffer; contentType: string | null }> {
  const response = await fetch(`${url}${path}`, {
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
  return {
    bytes: Buffer.from(await response.arrayBuffer()),
    contentType: response.headers.get('content-type'),
  };
}

export interface Point {
  step: number;
  value: number;
  ts: number;
}

/** A wire value ("nan", "inf", "-inf" or a number) as a number. */
function wireNumber(value: MetricValue): number {
  return decodeMetricValue(value);
}

/**
 * A series' full history from the query API, following nextCursor until the end with `limit`
 * points a page. Returns the points and the number of pages read.
 */
export async function readHistory(
  url: string,
  runId: string,
  name: string,
  limit: number,
): Promise<{ points: Point[]; pages: number }> {
  const points: Point[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    if (++pages > MAX_HISTORY_PAGES) throw new Error(`history of ${name}: the cursor never ends`);
    const query = new URLSearchParams({ name, limit: String(limit) });
    if (cursor !== undefined) query.set('cursor', cursor);
    const page = await getJson(url, `/api/v1/runs/${runId}/metrics/history?${query}`);
    if (page.points.length > limit) throw new Error(`history of ${name}: a page over its limit`);
    for (const point of page.points) {
      points.push({ step: point.step, value: wireNumber(point.value), ts: point.ts });
    }
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return { points, pages };
}

/** Files under a folder, as POSIX paths relative to it, sorted. */
export async function filesUnder(root: string): Promise<string[]> {
  if (!existsSync(root)) return [];
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(root, join(entry.parentPath, entry.name)).split('\\').join('/'))
    .sort();
}

/**
 * The series a run folder holds (`plots/metrics/<series>.tsv`), each with its rows as the
 * directory sink wrote them: timestamp, step, value ("nan", "inf", "-inf" read as numbers).
 */
export async function readTsvSeries(runFolder: string): Promise<Map<string, Point[]>> {
  const metricsFolder = join(runFolder, 'plots', 'metrics');
  const series = new Map<string, Point[]>();
  for (const file of await filesUnder(metricsFolder)) {
    if (!file.endsWith('.tsv')) continue;
    const name = file.slice(0, -'.tsv'.length);
    const [header, ...rows] = (await readFile(join(metricsFolder, file), 'utf8'))
      .split('\n')
      .filter((line) => line !== '');
    const columns = header!.split('\t');
    if (columns[0] !== 'timestamp' || columns[1] !== 'step') {
      throw new Error(`${file}: unexpected header ${JSON.stringify(header)}`);
    }
    series.set(
      name,
      rows.map((row) => {
        const [timestamp, step, value] = row.split('\t');
        return {
          ts: Number(timestamp),
          step: Number(step),
          value: wireNumber(
            value === 'nan' || value === 'inf' || value === '-inf' ? value : Number(value),
          ),
        };
      }),
    );
  }
  return series;
}

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON, whose shape the assertions check
export async function readJson(path: string): Promise<any> {
  return JSON.parse(await readFile(path, 'utf8'));
}

/**
 * Polls `check` every `intervalMs` until it returns a value (not undefined) or `until()` says to
 * stop, or the deadline passes; returns the value or undefined.
 */
export async function pollWhile<T>(
  check: () => Promise<T | undefined>,
  options: { until: () => boolean; timeoutMs: number; intervalMs?: number },
): Promise<T | undefined> {
  const deadline = Date.now() + options.timeoutMs;
  while (!options.until() && Date.now() < deadline) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((done) => setTimeout(done, options.intervalMs ?? 25));
  }
  return undefined;
}
