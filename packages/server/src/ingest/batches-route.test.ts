import { gzipSync } from 'node:zlib';
import { createHttpSink, Run } from '@livestep/core';
import { describe, expect, it } from 'vitest';
import { SqliteRunStore } from '../storage/sqlite/sqlite-run-store.js';
import { TestRun } from '../test-support/make-events.js';
import {
  postJson,
  slowStore,
  startTestServer,
  temporaryFolder,
} from '../test-support/start-test-server.js';

describe('POST /api/v1/batches', () => {
  it("stores everything core's real HTTP sink sends, NaN and inf included, nothing twice", async () => {
    const server = await startTestServer();
    const run = new Run({
      experiment: 'sink',
      name: 'real',
      sinks: [
        createHttpSink({ url: server.url, spoolDirectory: temporaryFolder(), onWarning() {} }),
      ],
      exitHooks: false,
      collectGit: false,
    });
    run.logParams({ lr: 0.01, layers: [8, 8] });
    for (let step = 0; step < 3_000; step++) {
      run.logMetric('train/loss', step === 7 ? Number.NaN : 1 / (step + 1));
      run.logMetric('train/acc', step === 9 ? Number.POSITIVE_INFINITY : step / 3_000);
      run.nextStep();
    }
    const report = await run.end('completed');
    expect(report.ok).toBe(true);
    const counts = await server.store.counts();
    expect(counts).toMatchObject({ runs: 1, points: 6_000, events: 6_003 });
    const record = await server.store.getRun(run.id);
    expect(record).toMatchObject({ state: 'completed', params: { lr: 0.01, layers: [8, 8] } });
    const loss = await server.store.history(run.id, 'train/loss', { limit: 10 });
    expect(loss.items[7]!.value).toBeNaN();
    const acc = await server.store.history(run.id, 'train/acc', { limit: 10 });
    expect(acc.items[9]!.value).toBe(Number.POSITIVE_INFINITY);
  });

  it('answers a replayed batch 200 and stores nothing twice', async () => {
    const server = await startTestServer();
    const run = new TestRun();
    const batch = run.batch([run.start(), run.metric('loss', 1, 0), run.metric('loss', 2, 1)]);
    const first = await postJson(`${server.url}/api/v1/batches`, batch);
    expect(first).toMatchObject({ status: 200, body: { stored: 3, duplicates: 0 } });
    const again = await postJson(`${server.url}/api/v1/batches`, batch);
    expect(again).toMatchObject({ status: 200, body: { stored: 0, duplicates: 3 } });
    expect((await server.store.counts()).points).toBe(2);
  });

  it('keeps names in any script intact, plain or gzipped', async () => {
    const server = await startTestServer();
    const run = new TestRun('expérience ✓', 'прогон 🚀');
    const plain = run.batch([run.start(), run.metric('précision/✓', 0.5, 0)]);
    expect((await postJson(`${server.url}/api/v1/batches`, plain)).status).toBe(200);
    const zipped = gzipSync(JSON.stringify(run.batch([run.metric('précision/✓', 0.75, 1)])));
    const answer = await postJson(`${server.url}/api/v1/batches`, zipped, {
      'content-encoding': 'gzip',
    });
    expect(answer.status).toBe(200);
    expect(await server.store.getRun(run.identity.id)).toMatchObject({
      experiment: 'expérience ✓',
      name: 'прогон 🚀',
    });
    const page = await server.store.history(run.identity.id, 'précision/✓', { limit: 10 });
    expect(page.items.map((point) => point.value)).toEqual([0.5, 0.75]);
  });

  it('refuses an invalid batch with a 400 naming the field, and stores nothing of it', async () => {
    const server = await startTestServer();
    const run = new TestRun();
    const good = run.metric('loss', 1, 0);
    const bad = { ...run.metric('loss', 1, 1), value: 'high' };
    const answer = await postJson(`${server.url}/api/v1/batches`, run.batch([good, bad as never]));
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('invalid_batch');
    expect(answer.body.message).toContain('events[1].value');
    expect(answer.body.issues).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: 'events[1].value' })]),
    );
    expect(await server.store.counts()).toMatchObject({ runs: 0, events: 0 });
    const badName = await postJson(
      `${server.url}/api/v1/batches`,
      run.batch([{ ...good, id: crypto.randomUUID(), name: '../../etc/passwd' } as never]),
    );
    expect(badName.status).toBe(400);
    expect(badName.body.message).toContain('events[0].name');
    const version = await postJson(`${server.url}/api/v1/batches`, {
      ...run.batch([good]),
      protocol: 2,
    });
    expect(version.status).toBe(400);
    expect(version.body.message).toContain('protocol: expected 1, got 2');
    const huge = await postJson(
      `${server.url}/api/v1/batches`,
      run.batch([{ ...good, step: 1e300 } as never]),
    );
    expect(huge.status).toBe(400);
    // Core's schema bounds steps to what JSON carries exactly, and the 400 names the field.
    expect(huge.body.message).toMatch(/events\[0\]\.step: .*9007199254740991/);
    const kind = await postJson(
      `${server.url}/api/v1/batches`,
      run.batch([{ ...good, kind: 'constructor' } as never]),
    );
    expect(kind.status).toBe(400);
    expect(kind.body.message).toContain('events[0].kind');
  });

  it('takes gzip bodies, and stops a gzip bomb and an oversized body with a clear 413', async () => {
    const server = await startTestServer({ limits: { maxBodyBytes: 1024 * 1024 } });
    const run = new TestRun();
    const events = [];
    for (let step = 0; step < 2_000; step++) events.push(run.metric('loss', step, step));
    const gzipped = gzipSync(JSON.stringify(run.batch(events)));
    const answer = await postJson(`${server.url}/api/v1/batches`, gzipped, {
      'content-encoding': 'gzip',
    });
    expect(answer).toMatchObject({ status: 200, body: { stored: 2_000 } });

    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20));
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const exploded = await postJson(`${server.url}/api/v1/batches`, bomb, {
      'content-encoding': 'gzip',
    });
    expect(exploded.status).toBe(413);
    expect(exploded.body.message).toContain('larger than 1048576 bytes once decompressed');

    const huge = await postJson(
      `${server.url}/api/v1/batches`,
      Buffer.alloc(2 * 1024 * 1024, 0x20),
    );
    expect(huge.status).toBe(413);
    expect(huge.body.error).toBe('body_too_large');
    const notGzip = await postJson(`${server.url}/api/v1/batches`, 'plain', {
      'content-encoding': 'gzip',
    });
    expect(notGzip.status).toBe(400);
    expect((await server.store.counts()).points).toBe(2_000);
  });

  it('refuses a batch longer than the limit with 413, so the sink halves it', async () => {
    const server = await startTestServer({ limits: { maxBatchEvents: 10 } });
    const run = new TestRun();
    const events = [];
    for (let step = 0; step < 11; step++) events.push(run.metric('loss', step, step));
    const answer = await postJson(`${server.url}/api/v1/batches`, run.batch(events));
    expect(answer.status).toBe(413);
    expect(answer.body.message).toContain('at most 10');
  });

  it('acknowledges only after the commit, and answers 429 with Retry-After past the queue bound', async () => {
    const store = slowStore(new SqliteRunStore({ directory: ':memory:' }));
    const server = await startTestServer({ store, limits: { maxQueuedEvents: 6 } });
    const run = new TestRun();
    const post = (step: number) =>
      postJson(
        `${server.url}/api/v1/batches`,
        run.batch([run.metric('loss', step, step), run.metric('acc', step, step)]),
      );
    const queued = async () =>
      ((await (await fetch(`${server.url}/api/v1/health`)).json()) as { queuedEvents: number })
        .queuedEvents;
    const until = async (condition: () => Promise<boolean> | boolean) => {
      for (let waited = 0; !(await condition()) && waited < 10_000; waited += 10) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    let answered = false;
    const first = post(0).then((answer) => {
      answered = true;
      return answer;
    });
    // The first batch is held in its commit by the slow store: not acknowledged yet.
    await until(() => store.started > 0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(answered).toBe(false);
    const second = post(1);
    const third = post(2);
    await until(async () => (await queued()) === 6);
    const fourth = await post(3);
    expect(fourth.status).toBe(429);
    expect(fourth.headers.get('retry-after')).toBe('1');
    expect(fourth.body.message).toContain('events waiting to be written');
    // Let the held commit and the two batches queued behind it (one commit or two) go through.
    await until(() => {
      store.release();
      return store.commits >= 2 && store.started === store.commits;
    });
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
    expect((await third).status).toBe(200);
    expect((await store.counts()).points).toBe(6);
  });

  it('answers 503 with Retry-After while too many body bytes are being read', async () => {
    const store = slowStore(new SqliteRunStore({ directory: ':memory:' }));
    const server = await startTestServer({ store, limits: { maxInFlightBodyBytes: 1_000 } });
    const run = new TestRun();
    const big = run.batch(Array.from({ length: 20 }, (_, step) => run.metric('loss', step, step)));
    const held = postJson(`${server.url}/api/v1/batches`, big);
    for (let waited = 0; store.started === 0 && waited < 10_000; waited += 10) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const refused = await postJson(
      `${server.url}/api/v1/batches`,
      run.batch([run.metric('x', 1, 0)]),
    );
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    store.release();
    expect((await held).status).toBe(200);
    const after = postJson(`${server.url}/api/v1/batches`, run.batch([run.metric('x', 1, 0)]));
    await new Promise((resolve) => setTimeout(resolve, 100));
    store.release();
    expect((await after).status).toBe(200);
  });

  it('needs the token when it has one, and never echoes it', async () => {
    const token = 'lst_secret_token_123';
    const server = await startTestServer({ token });
    const run = new TestRun();
    const batch = run.batch([run.metric('loss', 1, 0)]);
    const missing = await postJson(`${server.url}/api/v1/batches`, batch);
    expect(missing.status).toBe(401);
    const wrong = await postJson(`${server.url}/api/v1/batches`, batch, {
      authorization: 'Bearer nope',
    });
    expect(wrong.status).toBe(401);
    expect(JSON.stringify(wrong.body)).not.toContain(token);
    const right = await postJson(`${server.url}/api/v1/batches`, batch, {
      authorization: `Bearer ${token}`,
    });
    expect(right.status).toBe(200);
    const health = await fetch(`${server.url}/api/v1/health`);
    expect(health.status).toBe(200);
  });

  it('refuses to listen off loopback without a token', async () => {
    await expect(startTestServer({ host: '0.0.0.0' })).rejects.toThrow(
      /refusing to listen on 0\.0\.0\.0 without a token/,
    );
  });
});
