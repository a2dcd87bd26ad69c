import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { EventStreamClient } from '../test-support/event-stream-client.js';
import { TestRun } from '../test-support/make-events.js';
import { postJson, startTestServer } from '../test-support/start-test-server.js';

const clients: EventStreamClient[] = [];
async function open(url: string, headers: Record<string, string> = {}) {
  const client = await EventStreamClient.open(url, headers);
  clients.push(client);
  return client;
}
afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

describe('live stream (SSE)', () => {
  it("sends a frame per committed batch, to all-runs and to that run's subscribers only", async () => {
    const server = await startTestServer();
    const one = new TestRun('live', 'one');
    const two = new TestRun('live', 'two');
    const all = await open(`${server.url}/api/v1/stream`);
    const onlyTwo = await open(`${server.url}/api/v1/runs/${two.identity.id}/stream`);
    expect(all.status).toBe(200);
    await postJson(
      `${server.url}/api/v1/batches`,
      one.batch([one.start(), one.metric('loss', 'nan', 0), one.metric('loss', 0.5, 1)]),
    );
    await postJson(`${server.url}/api/v1/batches`, two.batch([two.metric('acc', 0.9, 3)]));
    const first = await all.waitFor(
      (frame) => (frame.data as { run: { id: string } }).run.id === one.identity.id,
    );
    expect(first).toMatchObject({
      event: 'batch',
      data: {
        state: 'running',
        points: {
          loss: [
            [0, 'nan', expect.any(Number)],
            [1, 0.5, expect.any(Number)],
          ],
        },
        events: { start: 1 },
      },
    });
    await all.waitFor(
      (frame) => (frame.data as { run: { id: string } }).run.id === two.identity.id,
    );
    const second = await onlyTwo.waitFor((frame) => frame.event === 'batch');
    expect(second.data).toMatchObject({ points: { acc: [[3, 0.9, expect.any(Number)]] } });
    expect(
      onlyTwo.frames.every(
        (frame) => (frame.data as { run: { id: string } }).run.id === two.identity.id,
      ),
    ).toBe(true);
    // A replayed batch stores nothing and sends no frame.
    const before = all.frames.length;
    await postJson(`${server.url}/api/v1/batches`, two.batch([]));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(all.frames.length).toBe(before);
  });

  it('resumes after Last-Event-ID with exactly the frames missed, and says reset for an unknown id', async () => {
    const server = await startTestServer();
    const run = new TestRun();
    const first = await open(`${server.url}/api/v1/stream`);
    for (let step = 0; step < 5; step++) {
      await postJson(`${server.url}/api/v1/batches`, run.batch([run.metric('loss', step, step)]));
    }
    await first.waitFor(
      (frame) => (frame.data as { points?: { loss?: unknown[][] } }).points?.loss?.[0]?.[0] === 4,
    );
    const seen = first.frames[1]!.id!;
    const resumed = await open(`${server.url}/api/v1/stream`, { 'last-event-id': seen });
    await resumed.waitFor((frame) => frame.id === first.frames[4]!.id);
    expect(resumed.frames.map((frame) => frame.id)).toEqual(
      first.frames.slice(2).map((frame) => frame.id),
    );
    const stale = await open(`${server.url}/api/v1/stream`, { 'last-event-id': 'deadbeef-3' });
    const reset = await stale.waitFor((frame) => frame.event === 'reset');
    expect(reset.data).toEqual({ reason: 'the server restarted since that event' });
  });

  it('replays to a resuming subscriber the frames committed while nobody was listening', async () => {
    const server = await startTestServer();
    const run = new TestRun();
    const first = await open(`${server.url}/api/v1/stream`);
    await postJson(`${server.url}/api/v1/batches`, run.batch([run.metric('loss', 0, 0)]));
    const seen = await first.waitFor((frame) => frame.event === 'batch');
    first.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.hub.subscriberCount).toBe(0);
    // Committed with no subscriber: the hub keeps them (their text is made when first read).
    const values = ['inf', 'nan', '-inf'] as const;
    for (let step = 1; step <= 3; step++) {
      await postJson(
        `${server.url}/api/v1/batches`,
        run.batch([run.metric('loss', values[step - 1]!, step)]),
      );
    }
    const resumed = await open(`${server.url}/api/v1/stream`, { 'last-event-id': seen.id! });
    await resumed.waitFor(
      (frame) => (frame.data as { points?: { loss?: unknown[][] } }).points?.loss?.[0]?.[0] === 3,
    );
    expect(
      resumed.frames.map((frame) => (frame.data as { points: { loss: unknown[][] } }).points.loss),
    ).toEqual([
      [[1, 'inf', expect.any(Number)]],
      [[2, 'nan', expect.any(Number)]],
      [[3, '-inf', expect.any(Number)]],
    ]);
  });

  it('keeps at most replayBytes of frames for resuming, written or not', async () => {
    const server = await startTestServer({ live: { replayBytes: 64 * 1024 } });
    const run = new TestRun();
    const first = await open(`${server.url}/api/v1/stream`);
    await postJson(`${server.url}/api/v1/batches`, run.batch([run.metric('loss', 0, 0)]));
    const seen = await first.waitFor((frame) => frame.event === 'batch');
    first.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Far more than 64 KiB of points while nobody listens: the oldest frames fall out.
    for (let round = 0; round < 20; round++) {
      const events = [];
      for (let index = 0; index < 500; index++)
        events.push(run.metric('loss', index, 1 + round * 500 + index));
      await postJson(`${server.url}/api/v1/batches`, run.batch(events));
    }
    const resumed = await open(`${server.url}/api/v1/stream`, { 'last-event-id': seen.id! });
    const reset = await resumed.waitFor((frame) => frame.event === 'reset');
    expect(reset.data).toEqual({
      reason: 'that event is older than the frames kept for resuming',
    });
  });

  it('cuts off a subscriber that does not read, instead of buffering for it', async () => {
    const server = await startTestServer({ live: { maxSubscriberBufferBytes: 64 * 1024 } });
    // A client that sends the request and never reads the answer.
    const socket = connect(server.port, '127.0.0.1');
    socket.write(`GET /api/v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    socket.pause();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(server.hub.subscriberCount).toBe(1);
    const run = new TestRun();
    const deadline = Date.now() + 20_000;
    for (
      let round = 0;
      round < 400 && server.hub.droppedSubscribers === 0 && Date.now() < deadline;
      round++
    ) {
      const events = [];
      for (let index = 0; index < 2_000; index++)
        events.push(run.metric('loss', Math.random(), round * 2_000 + index));
      await server.store.ingest([run.ingest([])]);
      server.hub.publishCommits(await server.store.ingest([run.ingest(events)]));
    }
    expect(server.hub.droppedSubscribers).toBe(1);
    expect(server.hub.subscriberCount).toBe(0);
    socket.destroy();
  });

  it('announces a run that went silent as stale, then interrupted', async () => {
    const server = await startTestServer({
      liveness: { staleAfterMs: 100, interruptedAfterMs: 400 },
      livenessSweepMs: 50,
    });
    const run = new TestRun();
    const stream = await open(`${server.url}/api/v1/runs/${run.identity.id}/stream`);
    await postJson(`${server.url}/api/v1/batches`, run.batch([run.start()]));
    await stream.waitFor(
      (frame) => frame.event === 'state' && (frame.data as { state: string }).state === 'stale',
    );
    await stream.waitFor(
      (frame) =>
        frame.event === 'state' && (frame.data as { state: string }).state === 'interrupted',
    );
    expect(
      stream.frames.filter((frame) => (frame.data as { state: string }).state === 'stale'),
    ).toHaveLength(1);
    await postJson(`${server.url}/api/v1/batches`, run.batch([run.metric('loss', 1, 0)]));
    await stream.waitFor(
      (frame) =>
        frame.event === 'batch' &&
        (frame.data as { state: string }).state === 'running' &&
        'loss' in (frame.data as { points: object }).points,
    );
  });

  it('ends its streams when the server closes', async () => {
    const server = await startTestServer();
    const stream = await open(`${server.url}/api/v1/stream`);
    await server.close();
    await stream.ended;
    expect(server.hub.subscriberCount).toBe(0);
  });
});
