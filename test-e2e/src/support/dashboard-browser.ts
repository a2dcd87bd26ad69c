// The dashboard in a real browser: Debian's chromium driven by playwright-core, headless, one
// browser per test file (closed in afterAll), a fresh context per page. Every wait is bounded.
// What a test asserts is read from the page itself: window.livestep, the page's own hook onto
// what its charts draw and what its table shows.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { type Child, cleanEnvironment, startChild } from './live-server.js';

/** Debian's package (`apt-get install chromium`); LIVESTEP_CHROMIUM points elsewhere. */
export const CHROMIUM_PATH = process.env.LIVESTEP_CHROMIUM || '/usr/bin/chromium';
/** Flags for a headless browser in CI: no sandbox (root), no GPU, nothing fetched from outside. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
/** Starting a browser on two shared cores: seconds; past this it is not starting. */
const LAUNCH_TIMEOUT_MS = 60_000;
/** A server that has not printed its URL after this is not starting. */
const SERVER_START_TIMEOUT_MS = 30_000;
const SERVER_STOP_TIMEOUT_MS = 10_000;
const CLI = new URL('../../../packages/cli/dist/cli.js', import.meta.url).pathname;

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: LAUNCH_TIMEOUT_MS,
  });
}

export interface DashboardPage {
  page: Page;
  /** Uncaught errors and console errors of the page so far. */
  errors: string[];
}

/** Opens the dashboard at `url` + `hash` in a fresh 1280x800 context. */
export async function openDashboard(
  browser: Browser,
  url: string,
  hash = '',
): Promise<DashboardPage> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  await page.goto(`${url}/${hash}`, { timeout: 30_000 });
  await page.waitForFunction(() => 'livestep' in globalThis, undefined, { timeout: 30_000 });
  return { page, errors };
}

/** Polls `check` in the page until it returns something truthy; returns that. */
export async function waitInPage<T, A>(
  page: Page,
  check: (argument: A) => T,
  argument: A,
  timeoutMs: number,
): Promise<NonNullable<T>> {
  const handle = await page.waitForFunction(
    check as (argument: unknown) => T,
    argument as unknown,
    { timeout: timeoutMs, polling: 50 },
  );
  return (await handle.jsonValue()) as NonNullable<T>;
}

/** Where screenshots go: LIVESTEP_SCREENSHOTS (the README's images), else the test's temp folder. */
export function screenshotPath(name: string, fallbackFolder: string): string {
  const folder = process.env.LIVESTEP_SCREENSHOTS || fallbackFolder;
  mkdirSync(folder, { recursive: true });
  return join(folder, name);
}

export interface ServeProcess extends Child {
  url: string;
  port: number;
  stop(): Promise<number | null>;
}

/** `livestep serve --host 127.0.0.1 --port PORT --data DIR` (port 0: a free one), once it prints its URL. */
export async function startServe(
  dataDirectory: string,
  port = 0,
  extraArgs: string[] = [],
): Promise<ServeProcess> {
  const server = startChild(
    [
      CLI,
      'serve',
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      '--data',
      dataDirectory,
      ...extraArgs,
    ],
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
  return { ...server, url, port: Number(new URL(url).port), stop };
}

const TRAINING = new URL('./paced-tfjs-training.mjs', import.meta.url).pathname;

/** The paced tfjs training (paced-tfjs-training.mjs) streaming to `url`. */
export function startTraining(
  url: string,
  runFolder: string,
  settings: Record<string, string>,
): Child {
  return startChild([TRAINING], {
    env: cleanEnvironment({ LIVESTEP_URL: url, LIVESTEP_DIR: runFolder, ...settings }),
    deadlineMs: 180_000,
  });
}
