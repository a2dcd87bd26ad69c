// The dashboard's views in real Chromium against a real `livestep serve`: the runs table's
// filter, sort and metric columns (the server's filter language, typed into the page), the view
// kept in the URL, comparing runs (params that differ first), a run page with the plots of a
// tfjs training drawn from their data, and a server with a token (the page asks for it once).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  launchBrowser,
  openDashboard,
  type ServeProcess,
  screenshotPath,
  startServe,
  startTraining,
  waitInPage,
} from './support/dashboard-browser.js';
import { cleanEnvironment, getJson, killAll, startChild } from './support/live-server.js';

const PAGE_WAIT_MS = 60_000;
const examples = fileURLToPath(new URL('../../examples/', import.meta.url));

interface PageGlobals {
  livestep: { runs(): Array<{ id: string; name: string; state: string }> };
  location: { hash: string };
  document: {
    querySelector(selector: string): { getAttribute(name: string): string | null } | null;
    querySelectorAll(selector: string): Iterable<{ getAttribute(name: string): string | null }>;
  };
}

let browser: Browser;
let server: ServeProcess;
let folder: string;
/** The runs on the server: three paced trainings with different learning rates, and tfjs-fit. */
const LEARNING_RATES: Record<string, number> = { alpha: 0.01, beta: 0.02, gamma: 0.05 };

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'livestep-dashboard-views-'));
  [browser, server] = await Promise.all([launchBrowser(), startServe(join(folder, 'server'))]);
  const trainings = Object.entries(LEARNING_RATES).map(([name, lr]) =>
    startTraining(server.url, join(folder, name), {
      EPOCHS: '8',
      LR: String(lr),
      RUN_NAME: name,
      EXPERIMENT: 'sweep',
      LOG_IMAGES: name === 'alpha' ? '1' : '0',
    }),
  );
  const example = startChild(['src/main.mjs'], {
    cwd: join(examples, 'tfjs-fit'),
    env: cleanEnvironment({
      LIVESTEP_URL: server.url,
      LIVESTEP_DIR: join(folder, 'iris'),
      LIVESTEP_MODEL_PATH: join(folder, 'model', 'iris.json'),
      EPOCHS: '10',
    }),
    deadlineMs: 120_000,
  });
  for (const child of [...trainings, example]) {
    expect(await child.exited, child.output()).toBe(0);
  }
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await killAll();
  rmSync(folder, { recursive: true, force: true });
});

const shownNames = (page: Page) =>
  page.evaluate(() =>
    (globalThis as unknown as PageGlobals).livestep.runs().map((run) => run.name),
  );

async function waitForNames(page: Page, count: number): Promise<string[]> {
  await waitInPage(
    page,
    (expected: number) =>
      (globalThis as unknown as PageGlobals).livestep.runs().length === expected,
    count,
    PAGE_WAIT_MS,
  );
  return shownNames(page);
}

describe('the dashboard views in Chromium', () => {
  it('filters with the server’s expressions, sorts, shows metric columns, and keeps the view in the URL', async () => {
    const { page, errors } = await openDashboard(browser, server.url);
    const all = await waitForNames(page, 4);
    expect(all).toEqual(expect.arrayContaining(['alpha', 'beta', 'gamma']));

    await page.fill('input[name="filter"]', 'params.optimizer.lr > 0.015');
    await page.press('input[name="filter"]', 'Enter');
    expect((await waitForNames(page, 2)).sort()).toEqual(['beta', 'gamma']);
    await page.fill('input[name="q"]', 'gam');
    await page.press('input[name="q"]', 'Enter');
    expect(await waitForNames(page, 1)).toEqual(['gamma']);

    // The view is in the URL: a reload shows the same selection.
    const hash = await page.evaluate(() => (globalThis as unknown as PageGlobals).location.hash);
    expect(decodeURIComponent(hash)).toContain(
      'filter=params.optimizer.lr > 0.015'.replace(/ /g, '+'),
    );
    await page.reload();
    expect(await waitForNames(page, 1)).toEqual(['gamma']);
    expect(await page.inputValue('input[name="filter"]')).toBe('params.optimizer.lr > 0.015');

    // The theme switches and is kept in the URL too.
    const theme = await page.evaluate(() =>
      (globalThis as unknown as PageGlobals).document
        .querySelector('html')!
        .getAttribute('data-theme'),
    );
    await page.click('button.theme');
    const switched = theme === 'dark' ? 'light' : 'dark';
    await page.locator(`html[data-theme="${switched}"]`).waitFor({ timeout: PAGE_WAIT_MS });
    expect(
      await page.evaluate(() => (globalThis as unknown as PageGlobals).location.hash),
    ).toContain(`theme=${switched}`);
    // Clear the search, keep the filter on experiment only; sort by name both ways.
    await page.fill('input[name="q"]', '');
    await page.press('input[name="q"]', 'Enter');
    await page.fill('input[name="filter"]', 'experiment = sweep');
    await page.press('input[name="filter"]', 'Enter');
    await waitForNames(page, 3);
    await page.click('button[data-sort="name"]');
    await waitInPage(
      page,
      () => (globalThis as unknown as PageGlobals).livestep.runs()[0]?.name === 'alpha',
      undefined,
      PAGE_WAIT_MS,
    );
    expect(await shownNames(page)).toEqual(['alpha', 'beta', 'gamma']);
    await page.click('button[data-sort="name"]');
    await waitInPage(
      page,
      () => (globalThis as unknown as PageGlobals).livestep.runs()[0]?.name === 'gamma',
      undefined,
      PAGE_WAIT_MS,
    );
    expect(await shownNames(page)).toEqual(['gamma', 'beta', 'alpha']);

    // Metric columns: latest, min and max of train/loss, as the server summarised them.
    await page.fill('input[name="metrics"]', 'train/loss');
    await page.press('input[name="metrics"]', 'Enter');
    const cell = page.locator('.runs-row[data-run] [data-column="metric:min:train/loss"]').first();
    await cell.waitFor({ timeout: PAGE_WAIT_MS });
    const [first] = (
      await getJson(
        server.url,
        '/api/v1/runs?filter=experiment%20%3D%20sweep&sort=-name&metrics=train/loss',
      )
    ).runs;
    expect(first.name).toBe('gamma');
    expect(Number(await cell.textContent())).toBeCloseTo(first.metrics['train/loss'].min, 3);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('groups the table by experiment or by a param', async () => {
    const { page, errors } = await openDashboard(browser, server.url, '#group=experiment');
    await waitForNames(page, 4);
    const headers = page.locator('.group-row[data-group]');
    await headers.first().waitFor({ timeout: PAGE_WAIT_MS });
    expect((await headers.allTextContents()).sort()).toEqual([
      'experiment = iris (1)',
      'experiment = sweep (3)',
    ]);
    await page.fill('input[name="group"]', 'params.optimizer.lr');
    await page.press('input[name="group"]', 'Enter');
    await page
      .locator('.group-row[data-group="optimizer.lr = 0.05"]')
      .waitFor({ timeout: PAGE_WAIT_MS });
    expect(await headers.count()).toBe(4);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('is reachable by keyboard: Tab to the table, arrows, Space selects, Enter opens', async () => {
    const { page, errors } = await openDashboard(
      browser,
      server.url,
      '#filter=experiment+%3D+sweep&sort=name',
    );
    expect(await waitForNames(page, 3)).toEqual(['alpha', 'beta', 'gamma']);
    const [alpha, , gamma] = await page.evaluate(() =>
      (globalThis as unknown as PageGlobals).livestep.runs().map((run) => run.id),
    );
    const inTable = () =>
      page.evaluate(() =>
        Boolean(
          (
            globalThis as unknown as {
              document: { activeElement: { matches(selector: string): boolean } | null };
            }
          ).document.activeElement?.matches('.runs-viewport'),
        ),
      );
    for (let presses = 0; presses < 40 && !(await inTable()); presses++)
      await page.keyboard.press('Tab');
    expect(await inTable(), 'Tab reaches the runs table').toBe(true);
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Space');
    await page
      .locator(`.runs-row.selected[data-run="${alpha}"]`)
      .waitFor({ timeout: PAGE_WAIT_MS });
    expect(
      await page.evaluate(() => (globalThis as unknown as PageGlobals).location.hash),
    ).toContain(`runs=${alpha}`);
    await page.keyboard.press('End');
    await page.keyboard.press('Enter');
    await page.locator('.run-page h1').waitFor({ timeout: PAGE_WAIT_MS });
    expect(await page.locator('.run-page h1').textContent()).toContain('gamma');
    expect(
      await page.evaluate(() => (globalThis as unknown as PageGlobals).location.hash),
    ).toContain(`run=${gamma}`);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('compares the selected runs, the params that differ first', async () => {
    const { page, errors } = await openDashboard(
      browser,
      server.url,
      '#filter=experiment+%3D+sweep&sort=name',
    );
    await waitForNames(page, 3);
    for (const name of ['alpha', 'gamma']) {
      await page.check(`input[aria-label="select ${name}"]`);
    }
    await page.click('button[data-action="compare"]');
    const rows = page.locator('.params-diff tr[data-key]');
    await rows.first().waitFor({ timeout: PAGE_WAIT_MS });
    const keys = await rows.evaluateAll((elements) =>
      elements.map((element) => [element.getAttribute('data-key'), element.getAttribute('class')]),
    );
    expect(keys[0]![1]).toBe('differs');
    expect(keys).toContainEqual(['optimizer.lr', 'differs']);
    const firstSame = keys.findIndex(([, kind]) => kind === 'same');
    expect(firstSame).toBeGreaterThan(0);
    expect(keys.slice(firstSame).every(([, kind]) => kind === 'same')).toBe(true);
    expect(keys.map(([key]) => key)).toContain('epochs');
    // Parallel coordinates: the differing params, then a metric; a line per run.
    const parallel = page.locator('svg.parallel');
    expect(await parallel.getAttribute('aria-label')).toContain('optimizer.lr');
    expect(await parallel.locator('polyline').count()).toBe(2);
    const cells = await page
      .locator('.params-diff tr[data-key="optimizer.lr"] td')
      .allTextContents();
    expect(cells).toEqual(['0.01', '0.05']);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('draws a tfjs run’s plots from their data on its run page', async () => {
    const runs = (await getJson(server.url, '/api/v1/runs?experiment=iris')).runs;
    expect(runs).toHaveLength(1);
    const { page, errors } = await openDashboard(
      browser,
      server.url,
      `#page=run&run=${runs[0].id}`,
    );
    const heatmap = page.locator('table.heatmap[data-plot-kind="confusion"]').first();
    await heatmap.waitFor({ timeout: PAGE_WAIT_MS });
    const counts = await heatmap
      .locator('td[data-count]')
      .evaluateAll((cells) => cells.map((cell) => Number(cell.getAttribute('data-count'))));
    // Iris: 30 validation flowers, 3 classes.
    expect(counts).toHaveLength(9);
    expect(counts.reduce((sum, count) => sum + count, 0)).toBe(30);
    const roc = page.locator('[data-plot-kind="roc"]').first();
    await roc.locator('canvas').waitFor({ timeout: PAGE_WAIT_MS });
    expect(Number(await roc.getAttribute('data-points'))).toBeGreaterThan(2);
    await page.locator('[data-plot-kind="pr"] canvas').first().waitFor({ timeout: PAGE_WAIT_MS });
    expect(await page.locator('[data-section="params"] .tree').first().textContent()).toContain(
      'iris',
    );
    expect(await page.locator('[data-section="artifacts"]').textContent()).toContain(
      'iris-classifier',
    );
    // Every chart loads when it scrolls into view: a window tall enough shows them all.
    await page.setViewportSize({ width: 1280, height: 4200 });
    await waitInPage(
      page,
      () => {
        const charts = [
          ...(globalThis as unknown as PageGlobals).document.querySelectorAll('figure.chart'),
        ];
        return (
          charts.length > 0 &&
          charts.every((chart) => Number(chart.getAttribute('data-points')) > 0)
        );
      },
      undefined,
      PAGE_WAIT_MS,
    );
    await page.screenshot({ path: screenshotPath('run-page.png', folder), fullPage: true });
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('shows a run’s images with a step slider and its notes, and exports a chart as CSV, PNG and SVG', async () => {
    const [alpha] = (await getJson(server.url, '/api/v1/runs?q=alpha')).runs;
    const { page, errors } = await openDashboard(browser, server.url, `#page=run&run=${alpha.id}`);
    const image = page.locator('figure.image[data-image="samples/pixel.png"]');
    await image.waitFor({ timeout: PAGE_WAIT_MS });
    // Epochs 0, 2, 4, 6: the slider starts at the last.
    expect(await image.locator('img').getAttribute('alt')).toBe('samples/pixel.png at step 6');
    await image.locator('input[type="range"]').evaluate((slider) => {
      const input = slider as unknown as { value: string; dispatchEvent(event: unknown): void };
      input.value = '0';
      input.dispatchEvent(
        new (globalThis as unknown as { Event: new (type: string) => unknown }).Event('input'),
      );
    });
    expect(await image.locator('img').getAttribute('alt')).toBe('samples/pixel.png at step 0');
    // The new step's image loads after its src changed: wait for it (bounded), then read it.
    const loaded = await image.locator('img').evaluate(
      (img) =>
        new Promise<number>((resolve) => {
          const element = img as unknown as {
            complete: boolean;
            naturalWidth: number;
            addEventListener(type: string, listener: () => void): void;
          };
          if (element.complete) resolve(element.naturalWidth);
          element.addEventListener('load', () => resolve(element.naturalWidth));
          element.addEventListener('error', () => resolve(0));
          setTimeout(() => resolve(element.naturalWidth), 10_000);
        }),
    );
    expect(loaded).toBe(1);
    expect(await page.locator('ul.annotations').textContent()).toContain('checkpoint saved');

    // The charts below load once in view.
    await page.setViewportSize({ width: 1280, height: 4200 });
    const chart = page.locator('figure.chart[data-metric="train/loss"]');
    await waitInPage(
      page,
      () => {
        const element = (globalThis as unknown as PageGlobals).document.querySelectorAll(
          'figure.chart[data-metric="train/loss"]',
        );
        return [...element].some((item) => Number(item.getAttribute('data-points')) > 0);
      },
      undefined,
      PAGE_WAIT_MS,
    );
    const [csv] = await Promise.all([
      page.waitForEvent('download', { timeout: PAGE_WAIT_MS }),
      chart.locator('button', { hasText: 'CSV' }).click(),
    ]);
    expect(csv.suggestedFilename()).toBe('train_loss.csv');
    const lines = readFileSync((await csv.path())!, 'utf8')
      .trim()
      .split('\n');
    expect(lines[0]).toBe('"step","alpha","alpha min","alpha max"');
    expect(lines).toHaveLength(1 + 8);
    const [png] = await Promise.all([
      page.waitForEvent('download', { timeout: PAGE_WAIT_MS }),
      chart.locator('button', { hasText: 'PNG' }).click(),
    ]);
    expect(
      readFileSync((await png.path())!)
        .subarray(1, 4)
        .toString(),
    ).toBe('PNG');
    const [svg] = await Promise.all([
      page.waitForEvent('download', { timeout: PAGE_WAIT_MS }),
      chart.locator('button', { hasText: 'SVG' }).click(),
    ]);
    const drawing = readFileSync((await svg.path())!, 'utf8');
    expect(drawing).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    // The raw line (with the run's name) and, smoothing being on, the smoothed one: 8 points each.
    expect(drawing).toContain('<title>alpha</title>');
    const smoothed = /<polyline class="smoothed" points="([^"]*)"/.exec(drawing)![1]!;
    expect(smoothed.split(' ')).toHaveLength(8);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('asks for the token of a server that has one, once, then shows its runs', async () => {
    const tokenServer = await startServe(join(folder, 'token-server'), 0, [
      '--token',
      'dashboard-secret',
    ]);
    try {
      const training = startTraining(tokenServer.url, join(folder, 'token-run'), {
        EPOCHS: '3',
        LIVESTEP_TOKEN: 'dashboard-secret',
      });
      const { page } = await openDashboard(browser, tokenServer.url);
      await page.locator('form.login').waitFor({ timeout: PAGE_WAIT_MS });
      await page.fill('input[name="token"]', 'wrong');
      await page.press('input[name="token"]', 'Enter');
      await page.locator('form.login .error:not(:empty)').waitFor({ timeout: PAGE_WAIT_MS });
      await page.fill('input[name="token"]', 'dashboard-secret');
      await page.press('input[name="token"]', 'Enter');
      expect(await training.exited, training.output()).toBe(0);
      await waitForNames(page, 1);
      await page.locator('.connection[data-connected="true"]').waitFor({ timeout: PAGE_WAIT_MS });
      const cookies = await page.context().cookies();
      expect(cookies.map((cookie) => [cookie.name, cookie.httpOnly, cookie.sameSite])).toEqual([
        ['livestep_session', true, 'Strict'],
      ]);
      await page.context().close();
    } finally {
      await tokenServer.stop();
    }
  });
});
