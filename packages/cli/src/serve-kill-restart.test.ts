/**
 * `livestep serve` killed with SIGKILL in the middle of ingest, then restarted on the same port
 * and data folder: every batch it acknowledged is in the database, the HTTP sink's retries bring
 * the rest, and nothing is stored twice.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { createHttpSink, type MetricColumns, Run } from '@livestep/core';
import { expandMetricColumns } from '@livestep/core/protocol';
import { SqliteRunStore } from '@livestep/server';
import { describe, expect, it } from 'vitest';
import { startServe } from './test-support/livestep-cli.js';

/** Points logged in all; the kill comes after KILL_AFTER of them. */
const POINTS = 30_000;
const KILL_AFTER = 12_000;
/** The server stays down this long: the sink retries (and may spool) meanwhile. */
const DOWNTIME_MS = 700;
/** Points logged after the kill before the loop waits for the restart (the rest go to a live server). */
const RESTART_BEFORE = 6_000;

async function serve(data: string, port: number) {
  const server = startServe(['--data', data], {}, port);
  return { child: server.child, url: await server.url };
}

describe('livestep serve killed with SIGKILL mid-ingest', () => {
  it('keeps every acknowledged event, gets the rest from the retries, and stores nothing twice', async () => {
    const data = mkdtempSync(join(tmpdir(), 'livestep-kill-'));
    const first = await serve(data, 0);
    const port = Number(new URL(first.url).port);
    const acknowledged = new Set<string>();
    let requests = 0;
    let failures = 0;
    // The sink's own fetch, watched: which events did the server answer 200 for?
    const watchedFetch: typeof fetch = async (input, init) => {
      requests++;
      let response: Response;
      try {
        response = await fetch(input, init);
      } catch (error) {
        failures++;
        throw error;
      }
      if (response.status === 200) {
        const body = init?.body as string | Buffer;
        const text = Buffer.isBuffer(body) ? gunzipSync(body).toString('utf8') : String(body);
        // A metric-columns block carries the ids of all its points.
        for (const event of JSON.parse(text).events as Array<{ id: string; kind: string }>) {
          if (event.kind !== 'metrics') acknowledged.add(event.id);
          else {
            for (const point of expandMetricColumns(event as unknown as MetricColumns)) {
              acknowledged.add(point.id);
            }
          }
        }
      }
      return response;
    };
    const run = new Run({
      experiment: 'kill',
      name: 'sigkill',
      exitHooks: false,
      collectGit: false,
      sinks: [
        createHttpSink({
          url: first.url,
          fetch: watchedFetch,
          spoolDirectory: mkdtempSync(join(tmpdir(), 'livestep-kill-spool-')),
          retryPolicy: { initialDelayMs: 50, maxDelayMs: 200 },
          onWarning() {},
        }),
      ],
    });
    let second: Awaited<ReturnType<typeof serve>> | undefined;
    let restarted: Promise<unknown> = Promise.resolve();
    for (let index = 0; index < POINTS; index++) {
      run.logMetric('train/loss', 1 / (index + 1));
      run.nextStep();
      if (index % 500 === 499) await new Promise((resolvePromise) => setTimeout(resolvePromise, 5));
      if (index === KILL_AFTER) {
        // The kill must come after the server acknowledged something: on a loaded machine the
        // first request (up to 20,000 points to a server that takes metric columns) may still be
        // in flight, so wait for an answer, bounded, while the loop is paused as in a slow step.
        const ackDeadline = Date.now() + 20_000;
        while (acknowledged.size === 0 && Date.now() < ackDeadline) {
          await new Promise((resolvePromise) => setTimeout(resolvePromise, 20));
        }
        expect(acknowledged.size).toBeGreaterThan(0);
        first.child.kill('SIGKILL');
        await new Promise((resolvePromise) => first.child.once('exit', resolvePromise));
        // Training goes on while the server is down; it comes back after DOWNTIME_MS.
        restarted = new Promise((resolvePromise) => setTimeout(resolvePromise, DOWNTIME_MS))
          .then(() => serve(data, port))
          .then((started) => {
            second = started;
          });
      }
      if (index === KILL_AFTER + RESTART_BEFORE) await restarted;
    }
    const acknowledgedBeforeEnd = new Set(acknowledged);
    const report = await run.end('completed', { timeoutMs: 30_000 });
    expect(report.ok, JSON.stringify(report)).toBe(true);
    expect(second).toBeDefined();
    second!.child.kill('SIGTERM');
    await new Promise((resolvePromise) => second!.child.once('exit', resolvePromise));

    const store = new SqliteRunStore({ directory: data });
    try {
      const missing: string[] = [];
      for (const id of acknowledgedBeforeEnd) {
        if (!(await store.hasEvent(run.id, id))) missing.push(id);
      }
      expect(missing).toEqual([]);
      // start + POINTS points + done, each exactly once.
      expect(await store.counts()).toMatchObject({ runs: 1, events: POINTS + 2, points: POINTS });
      const history = await store.history(run.id, 'train/loss', { limit: POINTS + 1 });
      expect(history.items.map((point) => point.step)).toEqual(
        Array.from({ length: POINTS }, (_, step) => step),
      );
      expect((await store.getRun(run.id))!.state).toBe('completed');
    } finally {
      await store.close();
    }
    // The kill cut requests off (in flight or refused), and the retries delivered after the restart.
    expect(failures).toBeGreaterThan(0);
    expect(requests).toBeGreaterThan(failures);
  }, 60_000);
});
