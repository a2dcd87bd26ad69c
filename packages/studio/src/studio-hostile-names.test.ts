/**
 * Hostile names through a run whose sink is the Studio sink, against a fake Studio that checks
 * every body against the api/live schema: each is refused before any sink sees it, with an error
 * naming the field; nothing reaches Object.prototype; every other row arrives.
 */
import type { Run } from '@livestep/core';
import { type FakeStudio, startFakeStudio } from '@livestep/test-support/studio';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startStudioTestRun, TEST_TOKEN } from './test-support/studio-test-run.js';

let studio: FakeStudio;
beforeEach(async () => {
  studio = await startFakeStudio(TEST_TOKEN);
});
afterEach(async () => {
  await studio.stop();
});

const hostile: Array<[string, (run: Run) => void, RegExp]> = [
  [
    'a metric named __proto__/isAdmin',
    (run) => run.logMetric('__proto__/isAdmin', 1),
    /reserved path segment "__proto__"/,
  ],
  ['a metric named step', (run) => run.logMetric('step', 1), /metric name "step" is reserved/],
  [
    'a plot named constructor',
    (run) => run.logPlot('constructor', { kind: 'line', rows: [{ x: 1, y: 1 }] }),
    /reserved path segment "constructor"/,
  ],
  [
    'a param key __proto__',
    (run) => run.logParams(JSON.parse('{"__proto__": {"isAdmin": 1}}')),
    /param "__proto__" uses the reserved key/,
  ],
  [
    'a 260-byte segment',
    (run) => run.logMetric(`val/${'é'.repeat(130)}`, 1),
    /path segment of 260 bytes/,
  ],
  [
    'a 10,000-character label',
    (run) => run.logMetric('eval/f1', 1, { labels: { class: 'x'.repeat(10_000) } }),
    /label "class" is 10000 bytes long/,
  ],
  [
    'a Windows device name (CON)',
    (run) => run.logMetric('eval/CON', 1),
    /"CON", a device name on Windows/,
  ],
  [
    'a Windows device name with an extension (nul.txt)',
    (run) => run.logImage('nul.png', new Uint8Array([0x89, 0x50, 0x4e, 0x47])),
    /"nul\.png", a device name on Windows/,
  ],
];

describe('hostile names through the Studio sink', () => {
  it.each(hostile)('%s', async (_, log, message) => {
    const { run } = startStudioTestRun(studio);
    run.logMetric('train/loss', 0.5);
    expect(() => log(run)).toThrow(message);
    run.logMetric('train/loss', 0.25, { step: 1 });
    const report = await run.end();
    expect(report.ok, JSON.stringify(report)).toBe(true);
    expect(studio.violations).toEqual([]);
    expect(studio.rows('livestep/plots/metrics/train/loss.tsv').map((row) => row.loss)).toEqual([
      0.5, 0.25,
    ]);
    expect(Object.keys(Object.prototype)).toEqual([]);
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });
});
