import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FakeLivestepServer, startFakeLivestepServer } from '@livestep/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_POLICY } from '../delivery/retry-policy.js';
import type { RunEvent } from '../protocol/events.js';
import { parseJsonl } from '../protocol/jsonl-record.js';
import { validateBatch } from '../protocol/validate-batch.js';
import { Run } from '../run/run.js';
import { DEFAULT_END_TIMEOUT_MS } from '../run/run-options.js';
import {
  createHttpSink,
  GZIP_THRESHOLD_BYTES,
  type HttpSinkOptions,
  resolveIngestUrl,
} from './http-sink.js';

const FAST_RETRIES = { initialDelayMs: 20, multiplier: 2, maxDelayMs: 200, jitter: 0.2 };
const TOKEN = 'lst_secret_token_4f9a1c';

const receivers: FakeLivestepServer[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((receiver) => receiver.stop()));
});

async function receiver(): Promise<FakeLivestepServer> {
  const started = await startFakeLivestepServer();
  receivers.push(started);
  return started;
}

function httpRun(
  url: string,
  options: Partial<HttpSinkOptions> = {},
  runOptions: { maxBatchEvents?: number } = {},
) {
  const warnings: string[] = [];
  const spoolDirectory = mkdtempSync(join(tmpdir(), 'livestep-spool-'));
  const sink = createHttpSink({
    url,
    spoolDirectory,
    retryPolicy: FAST_RETRIES,
    onWarning: (message) => warnings.push(message),
    ...options,
  });
  const run = new Run({
    experiment: 'http',
    name: 'http-run',
    sinks: [sink],
    exitHooks: false,
    collectGit: false,
    onWarning: (message) => warnings.push(message),
    ...runOptions,
  });
  return { run, warnings, spoolDirectory };
}

/** A port on 127.0.0.1 that nothing listens on: it was free a moment ago, and is closed again. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Reads a spool file the way `livestep sync` does (one JSONL record, checked against the
 * protocol's schema) and returns its events.
 */
function readSpool(path: string): RunEvent[] {
  const records = parseJsonl(readFileSync(path, 'utf8'));
  expect(records).toHaveLength(1);
  const [record] = records;
  const validation = validateBatch({ protocol: 1, run: record!.run, events: record!.events });
  expect(validation.ok).toBe(true);
  return record!.events;
}

/** Logs `points` values of the metric `m`, at steps `first`, `first + 1`, ... */
function logPoints(run: Run, points: number, first = 0): void {
  for (let step = first; step < first + points; step++) run.logMetric('m', step, { step });
}

const kindsOf = (events: RunEvent[]) => events.map((event) => event.kind);
const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

describe('HTTP sink', () => {
  it('delivers every event once, gzipping large bodies when asked, with the bearer token', async () => {
    const server = await receiver();
    server.token = TOKEN;
    const { run } = httpRun(server.url, { token: TOKEN, compress: true });
    for (let step = 0; step < 3_000; step++) run.logMetric('train/loss', 1 / (step + 1), { step });
    const report = await run.end();
    expect(report.ok).toBe(true);
    expect(server.events.size).toBe(3_002);
    expect(server.duplicates).toBe(0);
    expect(server.requests.some((request) => request.gzip)).toBe(true);
    expect(server.requests.every((request) => request.authorization === `Bearer ${TOKEN}`)).toBe(
      true,
    );
  });

  it('gzips large bodies to a remote server by default, never to a loopback one (CPU on both sides, no time saved)', async () => {
    const local = await receiver();
    const { run: localRun } = httpRun(local.url);
    for (let step = 0; step < 3_000; step++)
      localRun.logMetric('train/loss', 1 / (step + 1), { step });
    expect((await localRun.end()).ok).toBe(true);
    expect(local.events.size).toBe(3_002);
    expect(local.requests.some((request) => request.bytes > GZIP_THRESHOLD_BYTES)).toBe(true);
    expect(local.requests.some((request) => request.gzip)).toBe(false);

    // A remote server, reached through a fetch that answers as a livestep server does.
    const encodings: Array<string | undefined> = [];
    const remoteFetch: typeof fetch = async (_input, init) => {
      const headers = init?.headers as Record<string, string>;
      encodings.push(headers['content-encoding']);
      return new Response(JSON.stringify({ stored: 1, duplicates: 0 }), {
        status: 200,
        headers: { 'content-type': 'application/json' },
      });
    };
    const { run: remoteRun } = httpRun('https://tracking.example.com', { fetch: remoteFetch });
    for (let step = 0; step < 3_000; step++)
      remoteRun.logMetric('train/loss', 1 / (step + 1), { step });
    expect((await remoteRun.end()).ok).toBe(true);
    expect(encodings).toContain('gzip');
  });

  it('retries 503 bursts and 429 with Retry-After, and loses nothing', async () => {
    const server = await receiver();
    server.failNext(3, 503);
    server.failNext(1, 429, { retryAfter: '1' });
    const { run } = httpRun(server.url);
    const started = Date.now();
    for (let step = 0; step < 100; step++) run.logMetric('m', step, { step });
    const report = await run.end();
    expect(report.ok).toBe(true);
    expect(server.metricValues('m')).toEqual(Array.from({ length: 100 }, (_, index) => index));
    const statuses = server.requests.map((request) => request.status);
    expect(statuses.slice(0, 5)).toEqual([503, 503, 503, 429, 200]);
    // The retry after the 429 waited the second the server asked for, not the 20 ms backoff.
    const afterRateLimit = server.requests[4]!.at - server.requests[3]!.at;
    expect(afterRateLimit).toBeGreaterThanOrEqual(950);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('retries an answer slower than the timeout, and the server stores the batch once', async () => {
    const server = await receiver();
    server.delayNext(1, 600);
    const { run } = httpRun(server.url, { requestTimeoutMs: 200 });
    run.logMetric('m', 1);
    const report = await run.end();
    expect(report.ok).toBe(true);
    expect(server.metricValues('m')).toEqual([1]);
    // The slow request was stored too (after the client gave up): the retry was a duplicate.
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(server.events.size).toBe(3);
  });

  it('keeps the one event a server refuses (400), found by halving, with its message, for a sync', async () => {
    const server = await receiver();
    server.refuseEvent = (event) =>
      event.kind === 'metric' && event.value === 13
        ? `events[${event.seq}].value: 13 is not accepted here`
        : undefined;
    const { run, warnings, spoolDirectory } = httpRun(server.url);
    logPoints(run, 1_000);
    const report = await run.end();
    // Everything else was stored; the refused event was not dropped.
    expect(server.events.size).toBe(1_001);
    expect(report.failed).toBe(1);
    expect(report.sinks[0]!.failedByReason).toEqual({ rejected: 1 });
    expect(report.sinks[0]!.lastError).toBe(
      'server answered 400: events[14].value: 13 is not accepted here',
    );
    const refusedPath = join(spoolDirectory, `${run.id}.refused.jsonl`);
    const [record, ...others] = parseJsonl(readFileSync(refusedPath, 'utf8'));
    expect(others).toEqual([]);
    expect(record!.events).toEqual([expect.objectContaining({ kind: 'metric', value: 13 })]);
    expect(validateBatch({ protocol: 1, run: record!.run, events: record!.events }).ok).toBe(true);
    const header = JSON.parse(readFileSync(refusedPath, 'utf8').split('\n')[0]!);
    expect(header.refused).toMatchObject({
      status: 400,
      message: 'events[14].value: 13 is not accepted here',
    });
    expect(warnings.filter((warning) => warning.includes('refused'))).toEqual([
      expect.stringContaining(`livestep sync ${refusedPath}`),
    ]);
    // The batch holding it (1,000 events): 1 request + 2 per halving (10); the other batch: 1.
    expect(server.requests.length).toBeLessThanOrEqual(22);
  });

  it('sends a server that answers 413 to everything a bounded number of requests, and keeps every event it refused', async () => {
    const server = await receiver();
    server.everyRequest = { status: 413, body: 'request entity too large' };
    const { run, spoolDirectory } = httpRun(server.url);
    logPoints(run, 6_001);
    const report = await run.end();
    // Today's sink halved every batch down to single events: 12,003 requests for 6,003 events.
    // Now: 16 refusals in a row (13 halvings deep), the halves left at those levels, then one
    // request per batch.
    expect(server.requests.length).toBeLessThanOrEqual(40);
    expect(report.failed).toBe(6_003);
    expect(report.sinks[0]!.failedByReason).toEqual({ rejected: 6_003 });
    const records = parseJsonl(
      readFileSync(join(spoolDirectory, `${run.id}.refused.jsonl`), 'utf8'),
    );
    const refused = records.flatMap((record) => record.events);
    expect(new Set(refused.map((event) => event.id)).size).toBe(6_003);
    expect(refused.map((event) => event.seq)).toEqual(
      Array.from({ length: 6_003 }, (_, index) => index),
    );
  });

  it('bounds the requests for a batch with many refused events, and keeps what it could not deliver', async () => {
    const server = await receiver();
    // Every odd value is refused: isolating each one would cost about two requests per event.
    server.refuseEvent = (event) =>
      event.kind === 'metric' && (event.value as number) % 2 === 1
        ? `events: value ${event.value} is odd`
        : undefined;
    const { run, spoolDirectory } = httpRun(server.url);
    logPoints(run, 1_000);
    const report = await run.end();
    // Two batches (start + 999 points, then the last point and done): each split at most 64
    // times, so at most 2 x 64 + 1 requests each.
    expect(server.requests.length).toBeLessThanOrEqual(2 * (2 * 64 + 1));
    const refused = parseJsonl(
      readFileSync(join(spoolDirectory, `${run.id}.refused.jsonl`), 'utf8'),
    ).flatMap((record) => record.events);
    // Nothing lost: every event was stored or kept as refused.
    const kept = new Set([...server.events.keys(), ...refused.map((event) => event.id)]);
    expect(kept.size).toBe(1_002);
    expect(report.sinks[0]!.failedByReason.rejected).toBe(refused.length);
    expect(refused.length).toBeGreaterThanOrEqual(500);
  });

  it('splits a batch the server finds too large (413)', async () => {
    const server = await receiver();
    server.maxEventsPerBatch = 100;
    const { run } = httpRun(server.url);
    for (let step = 0; step < 1_000; step++) run.logMetric('m', step, { step });
    const report = await run.end();
    expect(report.ok).toBe(true);
    expect(server.metricValues('m')).toHaveLength(1_000);
    expect(server.requests.some((request) => request.status === 413)).toBe(true);
  });

  it('stops posting on a refused token, keeps every event in the spool, and never shows the token', async () => {
    const server = await receiver();
    server.token = 'the-right-token';
    const { run, warnings, spoolDirectory } = httpRun(server.url, { token: TOKEN });
    for (let step = 0; step < 50; step++) run.logMetric('m', step);
    const report = await run.end();
    expect(server.events.size).toBe(0);
    expect(server.requests).toHaveLength(1);
    expect(report.ok).toBe(false);
    expect(report.sinks[0]).toMatchObject({
      pending: 52,
      spooled: 52,
      lastError: 'server answered 401: invalid token',
    });
    const spoolFile = report.sinks[0]!.spoolPath!;
    const [record] = parseJsonl(readFileSync(spoolFile, 'utf8'));
    expect(record!.events).toHaveLength(52);
    expect(warnings.join('\n')).toMatch(/refused the token/);
    for (const file of readdirSync(spoolDirectory)) {
      expect(readFileSync(join(spoolDirectory, file), 'utf8')).not.toContain(TOKEN);
    }
    expect(JSON.stringify(report) + warnings.join('\n')).not.toContain(TOKEN);
  });

  it('keeps a token the server echoes back out of messages, even where the message is cut', async () => {
    const server = await receiver();
    // The second copy of the token starts 290 characters in: a cut at 300 before redaction left
    // its first 10 characters in the message.
    const body = `bad token ${TOKEN}${'x'.repeat(290 - 10 - TOKEN.length)}${TOKEN} and more`;
    server.failNext(1, 401, { body });
    const { run, warnings } = httpRun(server.url, { token: TOKEN });
    run.logMetric('m', 1);
    const report = await run.end();
    const shown = JSON.stringify(report) + warnings.join('\n');
    expect(shown).not.toContain(TOKEN.slice(0, 8));
    expect(report.sinks[0]!.lastError).toContain('[redacted]');
  });

  it('never shows the password of a URL, even one that does not parse', () => {
    for (const url of [
      'http://alice:pa55word@host name:4318',
      'http://alice:pa55/word@127.0.0.1:port',
      'https://alice:pa55word@@example.com:99999',
    ]) {
      let message = '';
      try {
        createHttpSink({ url });
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/is not a URL/);
      expect(message).not.toContain('pa55');
      expect(message).toContain('[credentials hidden]');
    }
    expect(() => resolveIngestUrl('https://alice:pa55word@example.com')).toThrow(
      /must not contain credentials/,
    );
  });

  it.each([
    [307, (port: number) => `http://127.0.0.1:${port}/api/v1/batches`],
    [308, (port: number) => `http://alice:hunter2@127.0.0.1:${port}/api/v1/batches?key=abc123`],
  ])(
    'does not follow a %i redirect to another origin; stops posting and keeps every event in the spool',
    async (status, location) => {
      const server = await receiver();
      const elsewhere = await receiver();
      elsewhere.token = undefined;
      server.everyRequest = {
        status,
        headers: { location: location(Number(new URL(elsewhere.url).port)) },
      };
      const { run, warnings } = httpRun(server.url, { token: TOKEN });
      logPoints(run, 100);
      await run.flush({ timeoutMs: 2_000 });
      logPoints(run, 100, 100);
      const report = await run.end();
      expect(elsewhere.requests).toEqual([]);
      expect(server.requests).toHaveLength(1);
      expect(report.sinks[0]).toMatchObject({ pending: 202, spooled: 202 });
      expect(kindsOf(readSpool(report.sinks[0]!.spoolPath!))).toEqual([
        'start',
        ...Array(200).fill('metric'),
        'done',
      ]);
      const shown = JSON.stringify(report) + warnings.join('\n');
      expect(shown).toContain(`redirecting to ${elsewhere.url}`);
      expect(shown).toContain('Set LIVESTEP_URL');
      expect(shown).not.toContain('hunter2');
      expect(shown).not.toContain('abc123');
      expect(shown).not.toContain(TOKEN);
    },
  );

  it('counts nothing delivered on a 200 whose body is cut off, and keeps every event for a sync', async () => {
    const server = await receiver();
    server.cutOffNext(100_000);
    const { run, warnings } = httpRun(server.url);
    logPoints(run, 10_000);
    while (server.requests.length < 3) await sleep(10);
    const report = await run.end();
    expect(server.events.size).toBe(0);
    expect(report.sinks[0]).toMatchObject({ delivered: 0, pending: 10_002, spooled: 10_002 });
    expect(readSpool(report.sinks[0]!.spoolPath!)).toHaveLength(10_002);
    expect(warnings.join('\n')).toContain('without acknowledging the batch (its body was cut off');
  });

  it('sends again after an answer that is not an acknowledgement (cut off, empty 200, an HTML page); a 204 acknowledges', async () => {
    const server = await receiver();
    server.cutOffNext(1);
    server.failNext(1, 200, { body: '' });
    server.failNext(1, 200, { body: '<html>Sign in to the proxy</html>' });
    const { run, warnings } = httpRun(server.url);
    logPoints(run, 100);
    const report = await run.end();
    expect(report.ok).toBe(true);
    expect(server.metricValues('m')).toEqual(Array.from({ length: 100 }, (_, index) => index));
    expect(server.requests.map((request) => request.status)).toEqual([200, 200, 200, 200]);
    expect(warnings.join('\n')).toContain('answered 200 without acknowledging the batch');
    expect(report.sinks[0]!.lastError).toBe(
      'server answered 200 but its body is not JSON ("<html>Sign in to the proxy</html>")',
    );

    const quiet = await receiver();
    quiet.failNext(1, 204, { body: '' });
    const second = httpRun(quiet.url);
    second.run.logMetric('m', 1);
    const acknowledged = await second.run.end();
    // No body by definition: the protocol takes a 204 as the server's acknowledgement.
    expect(acknowledged.ok).toBe(true);
    expect(quiet.requests).toHaveLength(1);
  });

  it('delivers a 100,000-point run complete, each point once, done last, when the receiver is down for the middle half', async () => {
    const server = await receiver();
    const { run, spoolDirectory, warnings } = httpRun(server.url, {
      spillAfterMs: 200,
      maxMemoryEvents: 20_000,
    });
    const points = 100_000;
    for (let index = 0; index < points; index++) {
      if (index === points / 4) await server.stop();
      if (index === (points * 3) / 4) await server.start();
      run.logMetric(index % 2 === 0 ? 'train/loss' : 'eval/loss', index, { step: index >> 1 });
      if (index % 1_000 === 999) await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const report = await run.end('completed', { timeoutMs: 60_000 });
    expect(report.ok).toBe(true);
    expect(server.events.size).toBe(points + 2);
    // Every point once, in seq order. Two requests of points may be in flight at once, so one
    // retried across the outage can land after a later one; seq (and step) give the order, and
    // anything but points waits for everything before it.
    const inSeqOrder = (name: string) =>
      server.arrivals
        .filter((event) => event.kind === 'metric' && event.name === name)
        .sort((left, right) => left.seq - right.seq)
        .map((event) => (event as { value: unknown }).value);
    expect(server.metricValues('train/loss')).toHaveLength(points / 2);
    expect(inSeqOrder('train/loss')).toEqual(
      Array.from({ length: points / 2 }, (_, index) => index * 2),
    );
    expect(inSeqOrder('eval/loss')).toEqual(
      Array.from({ length: points / 2 }, (_, index) => index * 2 + 1),
    );
    expect(server.arrivals.at(-1)!.kind).toBe('done');
    // The outage went through the spool, which is removed once replayed.
    expect(
      warnings.some((warning) => warning.includes('replaying them when the server is back')),
    ).toBe(true);
    expect(readdirSync(spoolDirectory)).toEqual([]);
  }, 60_000);

  it('delivers what was logged while the server was not yet listening', async () => {
    const server = await receiver();
    await server.stop();
    const { run } = httpRun(server.url);
    run.logMetric('m', 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await server.start();
    const report = await run.end();
    expect(report.ok).toBe(true);
    expect(server.metricValues('m')).toEqual([1]);
  });

  it('spools what is undelivered at the end, for a later sync', async () => {
    const server = await receiver();
    await server.stop();
    const { run } = httpRun(server.url, { spillAfterMs: 60_000 });
    for (let step = 0; step < 10; step++) run.logMetric('m', step);
    const report = await run.end('completed', { timeoutMs: 300 });
    expect(report.ok).toBe(false);
    expect(report.sinks[0]).toMatchObject({ pending: 12, spooled: 12 });
    const spoolFile = report.sinks[0]!.spoolPath!;
    expect(existsSync(spoolFile)).toBe(true);
    const [record] = parseJsonl(readFileSync(spoolFile, 'utf8'));
    expect(record!.events.map((event) => event.kind)).toEqual([
      'start',
      ...Array(10).fill('metric'),
      'done',
    ]);
  });

  it('ends at once when the server cannot be reached, with every unsent event in the spool', async () => {
    const port = await closedPort();
    // The real backoff (0.5 s doubling to 30 s): end() must not wait it out.
    const { run, spoolDirectory, warnings } = httpRun(`http://127.0.0.1:${port}`, {
      retryPolicy: DEFAULT_RETRY_POLICY,
    });
    logPoints(run, 500);
    await sleep(150); // the first attempt was refused: the sink waits to retry
    logPoints(run, 500, 500);
    const started = performance.now();
    const report = await run.end(); // the default end deadline
    const endMs = performance.now() - started;
    expect(endMs).toBeLessThan(1_000);
    expect(report.sinks[0]).toMatchObject({ pending: 1_002, spooled: 1_002 });
    expect(report.sinks[0]!.spoolPath).toBe(join(spoolDirectory, `${run.id}.jsonl`));
    const spooled = readSpool(report.sinks[0]!.spoolPath!);
    expect(kindsOf(spooled)).toEqual(['start', ...Array(1_000).fill('metric'), 'done']);
    expect(spooled.map((event) => event.seq)).toEqual(
      Array.from({ length: 1_002 }, (_, index) => index),
    );
    expect(warnings.join('\n')).toContain(
      `1002 events did not reach 127.0.0.1:${port} before the run ended (cannot reach 127.0.0.1:${port} (ECONNREFUSED))`,
    );
    expect(warnings.join('\n')).toContain(`livestep sync ${report.sinks[0]!.spoolPath}`);
    // The report says how to deliver them later, and so does a DeliveryError.
    const command = `npx livestep sync ${report.sinks[0]!.spoolPath} --to http://127.0.0.1:${port}`;
    expect(report.sinks[0]!.recoverWith).toBe(command);
    await expect(run.flushOrThrow()).rejects.toThrow(`; to deliver them later: ${command}`);
  });

  it('ends at once when the end comes before the first attempt was refused', async () => {
    const { run } = httpRun(`http://127.0.0.1:${await closedPort()}`, {
      retryPolicy: DEFAULT_RETRY_POLICY,
    });
    logPoints(run, 10);
    const started = performance.now();
    const report = await run.end();
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(report.sinks[0]).toMatchObject({ pending: 12, spooled: 12 });
    expect(readSpool(report.sinks[0]!.spoolPath!)).toHaveLength(12);
  });

  it('ends at once when the server was failing before the end and still is, with every event in the spool', async () => {
    const server = await receiver();
    server.failNext(1_000, 503);
    const { run } = httpRun(server.url, { retryPolicy: DEFAULT_RETRY_POLICY });
    logPoints(run, 100);
    // Refused once, and the sink knows it (not only the server): it waits 0.5 s to retry.
    while ((await run.flush({ timeoutMs: 1 })).sinks[0]!.lastError === undefined) await sleep(10);
    const started = performance.now();
    const report = await run.end();
    expect(performance.now() - started).toBeLessThan(1_000);
    // The wait was cut short for one last attempt, refused too; no more.
    expect(server.requests.map((request) => request.status)).toEqual([503, 503]);
    expect(server.events.size).toBe(0);
    expect(report.sinks[0]).toMatchObject({ pending: 102, spooled: 102 });
    expect(kindsOf(readSpool(report.sinks[0]!.spoolPath!))).toEqual([
      'start',
      ...Array(100).fill('metric'),
      'done',
    ]);
  });

  it('ends at once when the server asks, during the end, for a wait past the deadline', async () => {
    const server = await receiver();
    server.failNext(1, 429, { retryAfter: '60' });
    const { run } = httpRun(server.url);
    logPoints(run, 10);
    const started = performance.now();
    const report = await run.end();
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(server.requests.map((request) => request.status)).toEqual([429]);
    expect(report.sinks[0]).toMatchObject({ pending: 12, spooled: 12 });
  });

  it('gives a server that was timing out before the end one more second, not the deadline', async () => {
    const server = await receiver();
    server.delayNext(100, 10_000); // every request hangs
    const { run } = httpRun(server.url, { requestTimeoutMs: 2_000 });
    logPoints(run, 10);
    // Sealed at ~250 ms, timed out at ~2,250 ms, retried: failing, with a request in flight.
    await sleep(2_400);
    const started = performance.now();
    const report = await run.end();
    const endMs = performance.now() - started;
    expect(endMs).toBeGreaterThan(900);
    expect(endMs).toBeLessThan(1_500);
    expect(report.sinks[0]).toMatchObject({ pending: 12, spooled: 12 });
    expect(kindsOf(readSpool(report.sinks[0]!.spoolPath!))).toEqual([
      'start',
      ...Array(10).fill('metric'),
      'done',
    ]);
  });

  it('gives a server that hangs until the end deadline, then spools every unsent event', async () => {
    const server = await receiver();
    server.delayNext(1, DEFAULT_END_TIMEOUT_MS + 3_000); // longer than end() waits
    const { run } = httpRun(server.url);
    logPoints(run, 100);
    await run.flush({ timeoutMs: 100 }); // the first request is on its way, and hangs
    logPoints(run, 100, 100);
    const started = performance.now();
    const report = await run.end();
    const endMs = performance.now() - started;
    // It waited (the server might have answered), and no longer than the deadline.
    expect(endMs).toBeGreaterThan(DEFAULT_END_TIMEOUT_MS - 1_000);
    expect(endMs).toBeLessThan(DEFAULT_END_TIMEOUT_MS + 500);
    expect(report.sinks[0]).toMatchObject({ pending: 202, spooled: 202 });
    const spooled = readSpool(report.sinks[0]!.spoolPath!);
    expect(kindsOf(spooled)).toEqual(['start', ...Array(200).fill('metric'), 'done']);
  }, 15_000);

  it('keeps delivering to a slow server that answers until the deadline, then spools the rest', async () => {
    const server = await receiver();
    server.delayNext(10, 1_000); // every request takes a second
    const { run, spoolDirectory } = httpRun(server.url);
    logPoints(run, 50);
    await run.flush({ timeoutMs: 100 }); // request 1 (start and 50 points) is on its way
    logPoints(run, 50, 50);
    const started = performance.now();
    const report = await run.end('completed', { timeoutMs: 1_600 });
    const endMs = performance.now() - started;
    const storedByTheEnd = new Set(server.events.keys());
    expect(endMs).toBeGreaterThan(1_000);
    expect(endMs).toBeLessThan(1_600 + 300);
    // Request 1 was answered while end() waited; request 2 (the rest and done) was cut off.
    expect(storedByTheEnd.size).toBe(51);
    expect(report.sinks[0]).toMatchObject({ pending: 51, spooled: 51 });
    const spooled = readSpool(join(spoolDirectory, `${run.id}.jsonl`));
    expect(kindsOf(spooled)).toEqual([...Array(50).fill('metric'), 'done']);
    expect(spooled.every((event) => !storedByTheEnd.has(event.id))).toBe(true);
  });

  it('refuses plain http to hosts that are not loopback unless allowed', () => {
    expect(() => resolveIngestUrl('http://tracking.example.com')).toThrow(
      /refusing plain http to tracking.example.com/,
    );
    expect(resolveIngestUrl('http://tracking.example.com', true).href).toBe(
      'http://tracking.example.com/api/v1/batches',
    );
    expect(resolveIngestUrl('https://tracking.example.com/base/').href).toBe(
      'https://tracking.example.com/base/api/v1/batches',
    );
    expect(resolveIngestUrl('http://127.0.0.2:9000').href).toBe(
      'http://127.0.0.2:9000/api/v1/batches',
    );
    expect(resolveIngestUrl('http://localhost:9000').href).toBe(
      'http://localhost:9000/api/v1/batches',
    );
    expect(() => resolveIngestUrl('ftp://x')).toThrow(/must be http or https/);
    expect(() => resolveIngestUrl('not a url')).toThrow(/is not a URL/);
    expect(() => resolveIngestUrl('https://user:pw@example.com')).toThrow(
      /must not contain credentials/,
    );
  });
});
