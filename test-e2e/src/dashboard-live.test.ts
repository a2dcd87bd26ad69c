// The dashboard in real Chromium against a real `livestep serve` and a real tfjs training
// streaming to it. Everything asserted is read from the page: what its charts draw
// ((globalThis as unknown as PageGlobals).livestep.chart) and what its runs table shows, never the query API alone.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  launchBrowser,
  openDashboard,
  screenshotPath,
  startServe,
  startTraining,
  waitInPage,
} from './support/dashboard-browser.js';
import { getJson, killAll, readHistory } from './support/live-server.js';

/** Waits for the page: generous (two shared cores, a browser, a server and a training). */
const PAGE_WAIT_MS = 60_000;

interface ChartSnapshot {
  metric: string;
  zoomed: boolean;
  runs: Array<{ id: string; points: number; steps: number[]; values: Array<number | null> }>;
}

/**
 * What the page's functions see (they run in the browser; this package's types are Node's):
 * the page's own hook, (globalThis as unknown as PageGlobals).livestep, and the document.
 */
interface PageGlobals {
  livestep: {
    chart(metric: string): ChartSnapshot | undefined;
    charts(): string[];
    runs(): Array<{ id: string; name: string; state: string }>;
    frames(): number;
  };
  document: {
    querySelector(selector: string): { getAttribute(name: string): string | null } | null;
  };
}

let browser: Browser;
const folders: string[] = [];
function temporaryFolder(prefix: string): string {
  const folder = mkdtempSync(join(tmpdir(), prefix));
  folders.push(folder);
  return folder;
}

beforeAll(async () => {
  browser = await launchBrowser();
});
afterEach(async () => {
  await killAll();
});
afterAll(async () => {
  await browser?.close();
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

/** The steps the page draws for `metric` of its first charted run (empty before any). */
function drawnSteps(metric: string): number[] {
  return (globalThis as unknown as PageGlobals).livestep.chart(metric)?.runs[0]?.steps ?? [];
}

describe('the dashboard, live in Chromium', () => {
  it('draws new points of a tfjs training while it trains, then shows it completed', async () => {
    const folder = temporaryFolder('livestep-dashboard-live-');
    const server = await startServe(join(folder, 'server'));
    const { page, errors } = await openDashboard(browser, server.url);
    const training = startTraining(server.url, join(folder, 'run'), {
      EPOCHS: '60',
      EPOCH_DELAY_MS: '150',
    });

    // The run appears in the table, running, from the live stream.
    await waitInPage(
      page,
      () => (globalThis as unknown as PageGlobals).livestep.runs()[0]?.state === 'running',
      undefined,
      PAGE_WAIT_MS,
    );
    // Its loss chart has points, and then more points, while the training still runs.
    const first = await waitInPage(
      page,
      (metric: string) => {
        const steps =
          (globalThis as unknown as PageGlobals).livestep.chart(metric)?.runs[0]?.steps ?? [];
        return steps.length >= 2 ? steps.length : 0;
      },
      'train/loss',
      PAGE_WAIT_MS,
    );
    const later = await waitInPage(
      page,
      ({ metric, seen }: { metric: string; seen: number }) => {
        const steps =
          (globalThis as unknown as PageGlobals).livestep.chart(metric)?.runs[0]?.steps ?? [];
        return steps.length > seen ? steps.length : 0;
      },
      { metric: 'train/loss', seen: first },
      PAGE_WAIT_MS,
    );
    const stillTraining = training.child.exitCode === null;
    expect(later).toBeGreaterThan(first);
    expect(stillTraining, 'new points were drawn while the training ran').toBe(true);
    // The screenshots, once the chart has a curve to show.
    await waitInPage(
      page,
      (metric: string) =>
        ((globalThis as unknown as PageGlobals).livestep.chart(metric)?.runs[0]?.steps.length ??
          0) >= 25,
      'train/loss',
      PAGE_WAIT_MS,
    );
    await page.screenshot({ path: screenshotPath('runs-table.png', folder) });
    await page
      .locator('figure.chart[data-metric="train/loss"]')
      .screenshot({ path: screenshotPath('live-chart.png', folder) });

    expect(await training.exited, training.output()).toBe(0);
    // Completed, and the chart holds exactly the run's points: each once, none missing.
    await waitInPage(
      page,
      () => (globalThis as unknown as PageGlobals).livestep.runs()[0]?.state === 'completed',
      undefined,
      PAGE_WAIT_MS,
    );
    const [run] = (await getJson(server.url, '/api/v1/runs')).runs;
    const { points } = await readHistory(server.url, run.id, 'train/loss', 1000);
    expect(points).toHaveLength(60);
    await waitInPage(
      page,
      (count: number) =>
        ((globalThis as unknown as PageGlobals).livestep.chart('train/loss')?.runs[0]?.steps
          .length ?? 0) >= count,
      points.length,
      PAGE_WAIT_MS,
    );
    expect(await page.evaluate(drawnSteps, 'train/loss')).toEqual(
      points.map((point) => point.step),
    );
    const badge = page.locator(`.runs-row[data-run="${run.id}"] [data-status]`);
    expect(await badge.getAttribute('data-status')).toBe('completed');
    expect(errors).toEqual([]);
    await page.context().close();
    expect(await server.stop()).toBe(0);
  });

  it('keeps a zoom while live points arrive, fetching finer buckets for the zoomed range', async () => {
    const folder = temporaryFolder('livestep-dashboard-zoom-');
    const server = await startServe(join(folder, 'server'));
    const { page, errors } = await openDashboard(browser, server.url);
    const training = startTraining(server.url, join(folder, 'run'), {
      EPOCHS: '80',
      EPOCH_DELAY_MS: '150',
    });
    const seen = await waitInPage(
      page,
      (metric: string) => {
        const steps =
          (globalThis as unknown as PageGlobals).livestep.chart(metric)?.runs[0]?.steps ?? [];
        return steps.length >= 10 ? steps.length : 0;
      },
      'train/loss',
      PAGE_WAIT_MS,
    );
    // Hovering shows every run's value at that x.
    const area = page.locator('figure.chart[data-metric="train/loss"] .u-over');
    const box = (await area.boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.02, box.y + box.height / 2);
    const legend = page.locator('figure.chart[data-metric="train/loss"] .chart-legend');
    await legend.locator('.legend-item').waitFor({ timeout: PAGE_WAIT_MS });
    expect(await legend.textContent()).toMatch(/^step \d+/);
    // Drag across the left half of the plot area: a zoom, answered by a finer series request.
    const finer = page.waitForRequest(
      (request) => request.url().includes('/metrics/series') && request.url().includes('from='),
      { timeout: PAGE_WAIT_MS },
    );
    await page.mouse.move(box.x + box.width * 0.05, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    expect(new URL((await finer).url()).searchParams.get('name')).toBe('train/loss');
    // More points arrive while zoomed, and the zoom stays.
    await waitInPage(
      page,
      ({ metric, count }: { metric: string; count: number }) =>
        ((globalThis as unknown as PageGlobals).livestep.chart(metric)?.runs[0]?.steps.length ??
          0) > count,
      { metric: 'train/loss', count: seen + 3 },
      PAGE_WAIT_MS,
    );
    expect(training.child.exitCode, 'still training').toBeNull();
    const zoomed = await page.evaluate(
      (metric) => (globalThis as unknown as PageGlobals).livestep.chart(metric)?.zoomed,
      'train/loss',
    );
    expect(zoomed).toBe(true);
    // Double-click zooms back out.
    await area.dblclick();
    await waitInPage(
      page,
      (metric: string) =>
        (globalThis as unknown as PageGlobals).livestep.chart(metric)?.zoomed === false,
      'train/loss',
      PAGE_WAIT_MS,
    );
    expect(await training.exited, training.output()).toBe(0);
    expect(errors).toEqual([]);
    await page.context().close();
    expect(await server.stop()).toBe(0);
  });

  it('reconnects after the server restarts, with no point drawn twice or missing', async () => {
    const folder = temporaryFolder('livestep-dashboard-restart-');
    const data = join(folder, 'server');
    let server = await startServe(data);
    const { page } = await openDashboard(browser, server.url);
    const training = startTraining(server.url, join(folder, 'run'), {
      EPOCHS: '70',
      EPOCH_DELAY_MS: '120',
    });
    await waitInPage(
      page,
      (metric: string) =>
        ((globalThis as unknown as PageGlobals).livestep.chart(metric)?.runs[0]?.steps.length ??
          0) >= 5,
      'train/loss',
      PAGE_WAIT_MS,
    );

    // The server goes away mid-training and comes back on the same port and data folder; the
    // HTTP sink retries meanwhile, and the page follows the new server.
    expect(await server.stop()).toBe(0);
    await waitInPage(
      page,
      () =>
        (globalThis as unknown as PageGlobals).document
          .querySelector('.connection')
          ?.getAttribute('data-connected') === 'false',
      undefined,
      PAGE_WAIT_MS,
    );
    server = await startServe(data, server.port);
    expect(training.child.exitCode, 'the training outlasted the restart').toBeNull();
    expect(await training.exited, training.output()).toBe(0);

    const [run] = (await getJson(server.url, '/api/v1/runs')).runs;
    const { points } = await readHistory(server.url, run.id, 'train/loss', 1000);
    expect(points).toHaveLength(70);
    await waitInPage(
      page,
      (count: number) =>
        ((globalThis as unknown as PageGlobals).livestep.chart('train/loss')?.runs[0]?.steps
          .length ?? 0) >= count,
      points.length,
      PAGE_WAIT_MS,
    );
    await waitInPage(
      page,
      () => (globalThis as unknown as PageGlobals).livestep.runs()[0]?.state === 'completed',
      undefined,
      PAGE_WAIT_MS,
    );
    const drawn = await page.evaluate(drawnSteps, 'train/loss');
    expect(drawn).toEqual(points.map((point) => point.step));
    expect(new Set(drawn).size).toBe(drawn.length);
    await page.context().close();
    expect(await server.stop()).toBe(0);
  });

  it('shows a training that throws as failed, with its error on the run page', async () => {
    const folder = temporaryFolder('livestep-dashboard-failed-');
    const server = await startServe(join(folder, 'server'));
    const { page, errors } = await openDashboard(browser, server.url);
    const training = startTraining(server.url, join(folder, 'run'), {
      EPOCHS: '30',
      EPOCH_DELAY_MS: '100',
      THROW_AT_EPOCH: '5',
    });
    expect(await training.exited, training.output()).toBe(2);
    await waitInPage(
      page,
      () => (globalThis as unknown as PageGlobals).livestep.runs()[0]?.state === 'failed',
      undefined,
      PAGE_WAIT_MS,
    );
    const row = page.locator('.runs-row[data-run]').first();
    expect(await row.locator('[data-status]').getAttribute('data-status')).toBe('failed');
    await row.locator('a.run-link').click();
    const message = page.locator('.run-page pre.error');
    await message.waitFor({ timeout: PAGE_WAIT_MS });
    expect(await message.textContent()).toContain('the loss went NaN at epoch 5');
    expect(errors).toEqual([]);
    await page.context().close();
    expect(await server.stop()).toBe(0);
  });

  it('shows a training killed in the middle of its fit as stale, then interrupted', async () => {
    const folder = temporaryFolder('livestep-dashboard-stale-');
    // Short timeouts, set as a user would: seconds of silence, not the defaults' minutes.
    const server = await startServe(join(folder, 'server'), 0, [
      '--stale-after',
      '2',
      '--interrupted-after',
      '5',
    ]);
    const { page, errors } = await openDashboard(browser, server.url);
    const training = startTraining(server.url, join(folder, 'run'), {
      EPOCHS: '400',
      EPOCH_DELAY_MS: '100',
    });
    await waitInPage(
      page,
      (metric: string) =>
        ((globalThis as unknown as PageGlobals).livestep.chart(metric)?.runs[0]?.steps.length ??
          0) >= 3,
      'train/loss',
      PAGE_WAIT_MS,
    );
    // A machine that dies: no `done`, no exit hook, nothing more sent.
    expect(training.child.exitCode).toBeNull();
    training.child.kill('SIGKILL');
    expect(await training.exited).toBeNull();
    const killedAt = Date.now();
    // Run in the page: it sees only its own globals.
    const isState = (state: string) =>
      (globalThis as unknown as PageGlobals).livestep.runs()[0]?.state === state;
    await waitInPage(page, isState, 'stale', PAGE_WAIT_MS);
    const staleAfter = Date.now() - killedAt;
    const [run] = (await getJson(server.url, '/api/v1/runs')).runs;
    const badge = page.locator(`.runs-row[data-run="${run.id}"] [data-status]`);
    expect(await badge.getAttribute('data-status')).toBe('stale');
    await waitInPage(page, isState, 'interrupted', PAGE_WAIT_MS);
    const interruptedAfter = Date.now() - killedAt;
    expect(await badge.getAttribute('data-status')).toBe('interrupted');
    // Stale first, interrupted later: about 2 s and 5 s of silence (the sweep runs each 0.5 s).
    expect(interruptedAfter).toBeGreaterThan(staleAfter);
    expect(interruptedAfter).toBeGreaterThanOrEqual(4_000);
    expect(errors).toEqual([]);
    await page.context().close();
    expect(await server.stop()).toBe(0);
  });
});
