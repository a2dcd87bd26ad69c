/**
 * 10,000 malformed and hostile bodies on each ingest endpoint, over real HTTP: bad JSON, wrong
 * types, huge and path-like names, unknown protocol versions, prototype keys, wrong encodings and
 * content types, a missing or wrong token; then a 50 MB body and a gzip bomb. Every answer is a
 * 4xx with a message (no crash, no 5xx), and the store is exactly as it was before.
 */
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { LivestepServer } from '../create-server.js';
import { TestRun } from '../test-support/make-events.js';
import { startTestServer } from '../test-support/start-test-server.js';

/** Bodies per endpoint. */
const BODIES = 10_000;
/** Requests in flight at once: enough to overlap parsing and commits, bounded for 2 cores. */
const CONCURRENCY = 16;
/** The whole fuzz of one endpoint must end within this (it takes ~10 s here). */
const FUZZ_TIMEOUT_MS = 180_000;
const TOKEN = 'lst_fuzz_token_5ec2e7';
const SHA = 'abcdef0123456789abcdef0123456789abcdef01';

/** A deterministic 32-bit xorshift: the same bodies every run. */
function random(seed: number) {
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 2 ** 32;
  };
  return {
    next,
    pick<T>(items: readonly T[]): T {
      return items[Math.floor(next() * items.length)]!;
    },
    integer(max: number) {
      return Math.floor(next() * max);
    },
  };
}

interface Attempt {
  body: string | Buffer;
  headers: Record<string, string>;
  why: string;
}

const BAD_NAMES: unknown[] = [
  '',
  '../etc/passwd',
  '/absolute',
  'a//b',
  'trailing/',
  './x',
  'a/../b',
  'x'.repeat(201),
  'y'.repeat(100_000),
  'nul\u0000byte',
  'new\nline',
  'back\\slash',
  'c:drive',
  'star*',
  ' lead/space',
  5,
  null,
  {},
  [],
  true,
];
const WRONG: Record<string, unknown[]> = {
  id: [
    'not-a-uuid',
    5,
    null,
    '',
    'G0000000-0000-4000-8000-000000000000',
    randomUUID().toUpperCase(),
  ],
  seq: [-1, 1.5, 'x', null, [], {}],
  ts: [-5, 'yesterday', null, {}],
  kind: ['constructor', '__proto__', 'toString', 'nope', 5, null, ''],
  value: ['NaN', 'Infinity', 'high', null, [], {}, true, '1'],
  step: [-1, 1.5, 'x', null, 1e300, {}],
};

function validBatch(run: TestRun): Record<string, unknown> {
  return run.batch([
    run.start(),
    run.params({ lr: 0.1 }),
    run.metric('train/loss', 0.5, 0),
    run.metric('train/loss', 'nan', 1),
    run.done('completed'),
  ]) as unknown as Record<string, unknown>;
}

/** Ways to spoil a valid metric-columns block, each of which the server must refuse. */
const COLUMN_SPOILERS: Array<
  (block: Record<string, unknown>, rng: ReturnType<typeof random>) => void
> = [
  (block, rng) => {
    (block.values as unknown[])[rng.integer(4)] = rng.pick(WRONG.value!);
  },
  (block, rng) => {
    (block.stepDeltas as unknown[])[0] = rng.pick([-1, 0.5, 'x', null, 1e300]);
  },
  (block, rng) => {
    (block.seqDeltas as unknown[])[rng.integer(4)] = rng.pick([-1e6, 0.5, 2 ** 48, '1', null]);
  },
  (block, rng) => {
    (block.tsDeltas as unknown[])[rng.integer(4)] = rng.pick([-1e15, 'now', null, {}]);
  },
  (block, rng) => {
    (block.nameIndex as unknown[])[rng.integer(4)] = rng.pick([2, -1, 1.5, 'a', 1e9]);
  },
  (block, rng) => {
    (block.names as unknown[])[0] = rng.pick(BAD_NAMES);
  },
  (block) => {
    block.names = [];
  },
  (block, rng) => {
    const column = rng.pick(['nameIndex', 'seqDeltas', 'stepDeltas', 'tsDeltas', 'values']);
    if (rng.integer(2) === 0) delete block[column];
    else (block[column] as unknown[]).pop();
  },
  (block, rng) => {
    if (rng.integer(2) === 0) delete block.idPrefix;
    else block.ids = [randomUUID()];
  },
  (block, rng) => {
    block.idPrefix = rng.pick(['zz', '', 5, null, 'ABCDEF01-0000-8000-8000-', '../../']);
  },
  (block, rng) => {
    block.labels = rng.pick([[null], [{ a: 5 }, null], 'x', [null, null, null]]);
  },
  (block, rng) => {
    // Defined, not assigned: `__proto__` must be an own key, as JSON.parse makes it.
    Object.defineProperty(block, rng.pick(['evil', '__proto__', 'constructor']), {
      value: 1,
      enumerable: true,
    });
  },
  (block, rng) => {
    block.values = rng.pick([{}, 'values', 5, null]);
  },
];

/** A valid batch around a metric-columns block spoiled one way: refused whole, nothing stored. */
function hostileColumns(run: TestRun, rng: ReturnType<typeof random>): Record<string, unknown> {
  const seq = 10 + rng.integer(1_000);
  const prefix = '6f1c0a52-3f7e-8d7b-9f0e-';
  const block: Record<string, unknown> = {
    kind: 'metrics',
    names: ['train/loss', 'train/acc'],
    idPrefix: prefix,
    nameIndex: [0, 1, 0, 1],
    seqDeltas: [seq, 1, 1, 1],
    stepDeltas: [0, 0, 1, 0],
    tsDeltas: [1_700_000_000_000, 0, 1, 0],
    values: [0.5, 'nan', 'inf', -1],
  };
  rng.pick(COLUMN_SPOILERS)(block, rng);
  const batch = validBatch(run);
  (batch.events as unknown[]).splice(3, 0, block);
  return batch;
}

function hostileBatch(rng: ReturnType<typeof random>): Attempt {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    authorization: `Bearer ${TOKEN}`,
  };
  const run = new TestRun('fuzz', `fuzz-${rng.integer(1_000)}`);
  const batch = validBatch(run);
  const events = batch.events as Array<Record<string, unknown>>;
  const text = JSON.stringify(batch);
  switch (rng.integer(17)) {
    case 0:
      return {
        body: text.slice(0, 1 + rng.integer(text.length - 1)),
        headers,
        why: 'truncated JSON',
      };
    case 1: {
      const bytes = Buffer.alloc(1 + rng.integer(300));
      for (let index = 0; index < bytes.length; index++) bytes[index] = rng.integer(256);
      return { body: bytes, headers, why: 'random bytes' };
    }
    case 2:
      return {
        body: rng.pick(['1', '"batch"', '[]', 'null', 'true', '[{}]', '{}']),
        headers,
        why: 'not a batch',
      };
    case 3:
      batch.protocol = rng.pick([2, '1', null, 0, 1.5, 999]);
      return { body: JSON.stringify(batch), headers, why: 'protocol version' };
    case 4: {
      const mutate = rng.pick([
        () => {
          delete batch.run;
        },
        () => {
          (batch.run as Record<string, unknown>).id = rng.pick(WRONG.id!);
        },
        () => {
          (batch.run as Record<string, unknown>).experiment = rng.pick(['', 5, null]);
        },
        () => {
          (batch.run as Record<string, unknown>).extra = 1;
        },
      ]);
      mutate();
      return { body: JSON.stringify(batch), headers, why: 'run identity' };
    }
    case 5:
      batch.events = rng.pick([{}, 'events', 5, null]);
      return { body: JSON.stringify(batch), headers, why: 'events not a list' };
    case 6: {
      const event = rng.pick(events);
      const field = rng.pick(Object.keys(WRONG));
      if (field === 'value' || field === 'step') {
        const metric = events[2]!;
        metric[field] = rng.pick(WRONG[field]!);
      } else event[field] = rng.pick(WRONG[field]!);
      return { body: JSON.stringify(batch), headers, why: `event field ${field}` };
    }
    case 7:
      events[2]!.name = rng.pick(BAD_NAMES);
      return { body: JSON.stringify(batch), headers, why: 'metric name' };
    case 8:
      rng.pick(events).evil = 1;
      return { body: JSON.stringify(batch), headers, why: 'unknown event field' };
    case 9:
      return {
        body: `{"__proto__": {"polluted": true}, ${text.slice(1)}`,
        headers,
        why: 'prototype key on the batch',
      };
    case 10:
      return { body: '['.repeat(10_000 + rng.integer(200_000)), headers, why: 'deep nesting' };
    case 11:
      return {
        body: text,
        headers: {
          ...headers,
          'content-type': rng.pick([
            'text/plain',
            'application/x-www-form-urlencoded',
            'application/xml',
          ]),
        },
        why: 'content type',
      };
    case 12:
      return {
        body: text,
        headers: { ...headers, 'content-encoding': rng.pick(['gzip', 'deflate', 'br', 'zstd']) },
        why: 'content encoding that lies',
      };
    case 13: {
      const authorization = rng.pick([
        '',
        'Bearer wrong',
        `Bearer ${TOKEN}x`,
        `Basic ${TOKEN}`,
        'token',
        TOKEN,
      ]);
      const { authorization: _, ...rest } = headers;
      return {
        body: text,
        headers: authorization === '' ? rest : { ...rest, authorization },
        why: 'missing or wrong token',
      };
    }
    case 14:
      (events[2] as Record<string, unknown>).labels = rng.pick([{ a: 5 }, 'x', [], { b: null }]);
      return { body: JSON.stringify(batch), headers, why: 'labels' };
    case 15:
      return { body: JSON.stringify(hostileColumns(run, rng)), headers, why: 'metric columns' };
    default:
      events.push({
        ...events[2]!,
        id: randomUUID(),
        kind: 'plot',
        plotKind: rng.pick(['pie', 5, null]),
      });
      return { body: JSON.stringify(batch), headers, why: 'plot kind' };
  }
}

function validStudio(type: 'start' | 'data' | 'done', name: string): Record<string, unknown> {
  const common = {
    type,
    repo_url: 'https://github.com/acme/fuzz.git',
    baseline_sha: SHA,
    name,
    client: 'dvclive',
  };
  if (type === 'data') {
    return {
      ...common,
      step: 3,
      plots: {
        'dvclive/plots/metrics/loss.tsv': { data: [{ step: 3, timestamp: '1', loss: 0.5 }] },
      },
    };
  }
  return common;
}

function hostileStudio(rng: ReturnType<typeof random>): Attempt {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    authorization: `token ${TOKEN}`,
  };
  const body = validStudio(
    rng.pick(['start', 'data', 'done'] as const),
    `fuzz-${rng.integer(1_000)}`,
  );
  const json = () => JSON.stringify(body);
  const plots = () => {
    body.type = 'data';
    body.step = 1;
    const entry = rng.pick<Record<string, unknown>>([
      { '../x.tsv': { data: [] } },
      { '/abs/x.tsv': { data: [] } },
      { 'a\\b.tsv': { data: [] } },
      { 'a//b.tsv': { data: [] } },
      { 'dvclive/plots/metrics/x.tsv': { data: [], image: 'aGk=' } },
      { 'dvclive/plots/metrics/x.tsv': {} },
      { 'dvclive/plots/metrics/x.tsv': { data: 'rows' } },
      { 'dvclive/plots/images/x.png': { image: '' } },
      { 'dvclive/plots/images/x.png': { image: 'bm90IGFuIGltYWdl' } },
      { 'dvclive/plots/metrics/x.tsv': { data: [{ step: 'one', timestamp: '1', x: 1 }] } },
      { 'dvclive/plots/metrics/x.tsv': { data: [{ step: 1, timestamp: 5, x: 1 }] } },
      { 'dvclive/plots/metrics/x.tsv': { data: [{ step: 1, timestamp: '1', x: 'high' }] } },
      { 'dvclive/plots/metrics/x.tsv': { data: [{ step: -4, timestamp: '1', x: 1 }] } },
      { 'dvclive/plots/metrics/a:b.tsv': { data: [{ step: 1, timestamp: '1', 'a:b': 1 }] } },
      { 'dvclive/plots/sklearn/roc.json': { data: [1, 2], props: 'x' } },
    ]);
    body.plots = entry;
  };
  switch (rng.integer(14)) {
    case 0:
      return {
        body: json().slice(0, 1 + rng.integer(json().length - 1)),
        headers,
        why: 'truncated JSON',
      };
    case 1:
      body.type = rng.pick([undefined, 'begin', 5, null]);
      return { body: json(), headers, why: 'type' };
    case 2:
      body.baseline_sha = rng.pick(['xyz', SHA.slice(1), `${SHA}0`, null, 5, 'z'.repeat(40)]);
      return { body: json(), headers, why: 'baseline_sha' };
    case 3:
      body.repo_url = rng.pick([undefined, '', 5, null]);
      return { body: json(), headers, why: 'repo_url' };
    case 4: {
      const key = rng.pick(['extra', 'metric', 'steps', '__proto__']);
      // Written into the text: assigning `__proto__` in JavaScript would set the prototype instead.
      return {
        body: `{${JSON.stringify(key)}: 1, ${json().slice(1)}`,
        headers,
        why: 'unknown key',
      };
    }
    case 5:
      body.type = 'data';
      body.step = rng.pick([undefined, 'x', 1.5, null, -1]);
      return { body: json(), headers, why: 'step' };
    case 6:
      plots();
      return { body: json(), headers, why: 'plots' };
    case 7:
      body.params = rng.pick([5, 'x', { '../p.yaml': {} }, { 'params.yaml': 5 }]);
      return { body: json(), headers, why: 'params' };
    case 8:
      body.metrics = rng.pick([
        5,
        { 'metrics.json': { data: 5 } },
        { 'metrics.json': {} },
        { 'm.json': { data: {}, extra: 1 } },
      ]);
      return { body: json(), headers, why: 'metrics' };
    case 9:
      body.errors = rng.pick([5, [{}], [{ cls: 'E' }], [{ cls: 1, text: 'x' }], 'boom']);
      return { body: json(), headers, why: 'errors' };
    case 10:
      body.type = 'start';
      delete body.step;
      delete body.plots;
      body.message = 'm'.repeat(73 + rng.integer(1_000));
      return { body: json(), headers, why: 'message too long' };
    case 11:
      return {
        body: json().replace('"client":"dvclive"', '"client":"dvclive","x":NaN'),
        headers,
        why: 'NaN literal',
      };
    case 12: {
      const authorization = rng.pick(['', 'token wrong', `token ${TOKEN}x`, `Basic ${TOKEN}`]);
      const { authorization: _, ...rest } = headers;
      return {
        body: json(),
        headers: authorization === '' ? rest : { ...rest, authorization },
        why: 'missing or wrong token',
      };
    }
    default:
      body.name = rng.pick([5, null, [], {}]);
      return { body: json(), headers, why: 'name' };
  }
}

async function snapshot(server: LivestepServer, runId: string) {
  return {
    counts: await server.store.counts(),
    run: await server.store.getRun(runId),
    history: await server.store.history(runId, 'train/loss', { limit: 100 }),
  };
}

async function fuzz(
  server: LivestepServer,
  path: string,
  make: (rng: ReturnType<typeof random>) => Attempt,
  seed: number,
) {
  const rng = random(seed);
  const attempts = Array.from({ length: BODIES }, () => make(rng));
  const failures: string[] = [];
  const statuses = new Map<number, number>();
  let next = 0;
  async function worker() {
    while (next < attempts.length) {
      const attempt = attempts[next++]!;
      const response = await fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: attempt.headers,
        body: attempt.body,
      });
      const text = await response.text();
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      let message: unknown;
      try {
        message = (JSON.parse(text) as { message?: unknown }).message;
      } catch {
        message = undefined;
      }
      if (
        response.status < 400 ||
        response.status >= 500 ||
        typeof message !== 'string' ||
        message === ''
      ) {
        if (failures.length < 10)
          failures.push(
            `${attempt.why}: ${response.status} ${text.slice(0, 200)} for ${String(attempt.body).slice(0, 200)}`,
          );
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { failures, statuses };
}

describe('ingest under hostile input', () => {
  async function seeded() {
    // Every wrong token is answered 401 here (the limit on guesses has a test of its own).
    const server = await startTestServer({
      token: TOKEN,
      maxFailedTokenAttempts: Number.POSITIVE_INFINITY,
    });
    const run = new TestRun('fuzz', 'the-only-run');
    await server.store.ingest([run.ingest(validBatch(run).events as never)]);
    return { server, run, before: await snapshot(server, run.identity.id) };
  }

  it(
    `answers ${BODIES} hostile bodies on POST /api/v1/batches with a 4xx each, and stores none`,
    async () => {
      const { server, run, before } = await seeded();
      const { failures, statuses } = await fuzz(server, '/api/v1/batches', hostileBatch, 0x5eed);
      expect(failures).toEqual([]);
      expect([...statuses.keys()].every((status) => status >= 400 && status < 500)).toBe(true);
      expect(statuses.get(400)).toBeGreaterThan(BODIES / 2);
      expect(statuses.get(401)).toBeGreaterThan(0);
      expect(statuses.get(415)).toBeGreaterThan(0);
      expect(await snapshot(server, run.identity.id)).toEqual(before);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    `answers ${BODIES} hostile bodies on POST /api/live with a 4xx each, and stores none`,
    async () => {
      const { server, run, before } = await seeded();
      const { failures, statuses } = await fuzz(server, '/api/live', hostileStudio, 0xbad5eed);
      expect(failures).toEqual([]);
      expect(statuses.get(400)).toBeGreaterThan(BODIES / 2);
      expect(statuses.get(401)).toBeGreaterThan(0);
      expect(await snapshot(server, run.identity.id)).toEqual(before);
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    'answers a 50 MB body and a gzip bomb with 413 on both endpoints, and stays up',
    async () => {
      const { server, run, before } = await seeded();
      const fifty = Buffer.alloc(50 * 1024 * 1024, 0x20);
      // 1 GiB of zeros in ~1 MB: it must stop inflating at the body limit.
      const bomb = gzipSync(Buffer.alloc(1024 * 1024 * 1024), { level: 9 });
      for (const path of ['/api/v1/batches', '/api/live']) {
        const auth = path === '/api/live' ? `token ${TOKEN}` : `Bearer ${TOKEN}`;
        for (const [body, extra] of [
          [fifty, {}],
          [bomb, { 'content-encoding': 'gzip' }],
        ] as const) {
          const response = await fetch(`${server.url}${path}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: auth, ...extra },
            body,
          }).catch((error: Error) => error);
          // A server may close the connection after answering 413 before the client is done sending.
          if (response instanceof Error) continue;
          expect(response.status, path).toBe(413);
          expect(((await response.json()) as { message: string }).message).toMatch(/larger than/);
        }
      }
      const health = await fetch(`${server.url}/api/v1/health`);
      expect(health.status).toBe(200);
      expect(await snapshot(server, run.identity.id)).toEqual(before);
    },
    FUZZ_TIMEOUT_MS,
  );
});
