/**
 * The fake ClearML the sink is tested against answers as ClearML does (backends.md A), refuses
 * what ClearML refuses, and records each refusal as a violation: otherwise "no violations" in the
 * sink's tests would prove nothing. These tests speak to it over real HTTP.
 */

import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { type FakeClearml, startFakeClearml } from '@livestep/test-support/clearml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

let clearml: FakeClearml;

beforeEach(async () => {
  clearml = await startFakeClearml({ accessKey: 'AK', secretKey: 'SK' });
});

afterEach(async () => {
  await clearml.close();
});

const basic = (key = 'AK', secret = 'SK') =>
  `Basic ${Buffer.from(`${key}:${secret}`).toString('base64')}`;

interface Answer {
  status: number;
  meta: {
    result_code: number;
    result_subcode: number;
    result_msg: string;
    endpoint: { name: string; requested_version: string; actual_version: string | null };
  };
  data: Record<string, unknown>;
}

async function call(
  path: string,
  body: unknown,
  authorization: string | undefined,
  options: { method?: string; headers?: Record<string, string>; raw?: string | Buffer } = {},
): Promise<Answer> {
  const response = await fetch(`${clearml.url}/${path}`, {
    method: options.method ?? 'POST',
    headers: {
      'content-type': 'application/json',
      ...(authorization !== undefined && { authorization }),
      ...options.headers,
    },
    body: options.raw ?? JSON.stringify(body),
  });
  const json = (await response.json()) as Omit<Answer, 'status'>;
  expect(json.meta.result_code).toBe(response.status);
  return { status: response.status, ...json };
}

/** A GET with a JSON body (the SDK's default method, A.1), which fetch cannot send. */
function getWithBody(path: string, body: unknown, authorization: string): Promise<Answer> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const sent = request(
      `${clearml.url}/${path}`,
      {
        method: 'GET',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(text),
          authorization,
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            ...(JSON.parse(Buffer.concat(chunks).toString()) as Omit<Answer, 'status'>),
          }),
        );
      },
    );
    sent.on('error', reject);
    sent.end(text);
  });
}

async function login(): Promise<string> {
  const answer = await call('v2.23/auth.login', {}, basic());
  expect(answer.status).toBe(200);
  return `Bearer ${answer.data.token as string}`;
}

async function newTask(auth: string): Promise<string> {
  const project = await call('projects.create', { name: 'livestep' }, auth);
  const task = await call(
    'tasks.create',
    { name: 'run', type: 'training', project: project.data.id },
    auth,
  );
  return task.data.id as string;
}

function batch(auth: string, events: unknown[], raw?: string): Promise<Answer> {
  return call('v2.23/events.add_batch', undefined, auth, {
    headers: { 'content-type': 'application/json-lines' },
    raw: raw ?? events.map((event) => JSON.stringify(event)).join('\n'),
  });
}

const scalar = (task: string, iter: number, value: unknown) => ({
  task,
  type: 'training_stats_scalar',
  timestamp: 1_764_597_600_000 + iter,
  iter,
  metric: 'train',
  variant: 'loss',
  value,
  model_event: false,
});

describe('the fake ClearML', () => {
  it('logs in with Basic keys, answers in the envelope, and takes the Bearer token after', async () => {
    const answer = await call('v2.23/auth.login', {}, basic());
    expect(answer.meta).toMatchObject({
      result_code: 200,
      result_subcode: 0,
      result_msg: 'OK',
      endpoint: { name: 'auth.login', requested_version: '2.23', actual_version: '2.1' },
    });
    const token = answer.data.token as string;
    expect(token.split('.')).toHaveLength(3);
    expect((await call('projects.get_all', {}, `Bearer ${token}`)).status).toBe(200);
    // Basic keys work everywhere, and a GET with a JSON body is the SDK's default.
    await call('projects.create', { name: 'one' }, basic());
    await call('projects.create', { name: 'two' }, basic());
    const got = await getWithBody(
      'projects.get_all',
      { name: '^two$', only_fields: ['name'] },
      basic(),
    );
    expect((got.data.projects as Array<{ name: string }>).map((item) => item.name)).toEqual([
      'two',
    ]);
    expect((await call('auth.login', {}, basic('AK', 'no'))).meta.result_subcode).toBe(22);
    const missing = await call('projects.get_all', {}, undefined);
    expect([missing.status, missing.meta.result_subcode]).toEqual([401, 20]);
    const unknown = await call('projects.get_all', {}, 'Bearer nope');
    expect([unknown.status, unknown.meta.result_subcode]).toEqual([401, 30]);
    expect(clearml.logins).toHaveLength(1);
    expect(clearml.violations).toEqual([]);
  });

  it('routes by version: the endpoint’s own version, 404/0 below it, no version for the highest', async () => {
    const auth = await login();
    const edit = { task: 'f'.repeat(32), hyperparams: [] };
    const low = await call('v2.1/tasks.edit_hyper_params', edit, auth);
    expect([low.status, low.meta.result_subcode, low.meta.endpoint.actual_version]).toEqual([
      404,
      0,
      null,
    ]);
    const high = await call('v2.10/tasks.edit_hyper_params', edit, auth);
    expect(high.meta.endpoint).toEqual({
      name: 'tasks.edit_hyper_params',
      requested_version: '2.10',
      actual_version: '2.9',
    });
    expect(high.meta.result_subcode).toBe(101);
    const plain = await call('projects.get_all', {}, auth);
    expect(plain.meta.endpoint.requested_version).toBe('2.31');
    expect((await fetch(`${clearml.url}/tasks.create`, { method: 'OPTIONS' })).status).toBe(200);
    expect(clearml.violations).toHaveLength(1);
    expect(clearml.violations[0]!.message).toMatch(/Unable to find endpoint/);
  });

  it('makes tokens expire: 401/30, then a new login works', async () => {
    const auth = await login();
    clearml.expireTokens();
    const expired = await call('projects.get_all', {}, auth);
    expect([expired.status, expired.meta.result_subcode]).toEqual([401, 30]);
    expect(expired.meta.result_msg).toBe('Invalid token');
    const fresh = await login();
    expect((await call('projects.get_all', {}, fresh)).status).toBe(200);
    expect(clearml.logins).toHaveLength(2);
    const short = await call('auth.login?expiration_sec=1', {}, basic());
    expect(clearml.logins[2]!.expirationSec).toBe(1);
    expect(short.status).toBe(200);
  });

  it('finds a project by the SDK’s escaped exact-match regex; a second create is refused', async () => {
    const auth = await login();
    const created = await call('projects.create', { name: 'a.b (c)' }, auth);
    const found = await call(
      'projects.get_all',
      { name: '^a\\.b\\ \\(c\\)$', only_fields: ['id'], search_hidden: true },
      auth,
    );
    expect(found.data).toEqual({ projects: [{ id: created.data.id }] });
    expect(
      (await call('projects.get_all', { name: '^a\\.b$' }, auth)).data.projects as unknown[],
    ).toEqual([]);
    const again = await call('projects.create', { name: 'a.b (c)' }, auth);
    expect(again.status).toBe(400);
    expect(again.meta.result_msg).toMatch(/already exists/);
    expect(clearml.violations).toEqual([]);
  });

  it('creates a task with hyperparams, edits them, and follows the transition table', async () => {
    const auth = await login();
    const project = await call('projects.create', { name: 'p' }, auth);
    const created = await call(
      'tasks.create',
      {
        name: 'run',
        type: 'training',
        project: project.data.id,
        system_tags: ['development'],
        hyperparams: { Args: { lr: { section: 'Args', name: 'lr', value: '0.1', type: 'float' } } },
      },
      auth,
    );
    const id = created.data.id as string;
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(clearml.onlyTask().status).toBe('created');
    const edit = await call(
      'tasks.edit_hyper_params',
      { task: id, hyperparams: [{ section: 'Args', name: 'epochs', value: '3' }] },
      auth,
    );
    expect(edit.meta.result_msg).toBe('OK');
    expect(edit.data).toEqual({ updated: 1 });
    expect(Object.keys(clearml.hyperparams(id).Args!)).toEqual(['lr', 'epochs']);
    // created → completed is not in the table.
    const bad = await call('tasks.completed', { task: id }, auth);
    expect([bad.status, bad.meta.result_subcode]).toEqual([400, 110]);
    expect(clearml.violations).toHaveLength(1);
    clearml.violations.length = 0;
    const started = await call('tasks.started', { task: id }, auth);
    expect(started.data).toMatchObject({
      updated: 1,
      started: 1,
      fields: { status: 'in_progress' },
    });
    expect((await call('tasks.started', { task: id }, auth)).status).toBe(200);
    const done = await call('tasks.completed', { task: id, status_reason: 'completed' }, auth);
    expect(done.data).toMatchObject({ updated: 1, fields: { status: 'completed' } });
    expect((await call('tasks.failed', { task: id }, auth)).meta.result_subcode).toBe(110);
    expect((await call('tasks.failed', { task: id, force: true }, auth)).status).toBe(200);
    expect(clearml.status(id)).toBe('failed');
    const gone = await call('tasks.started', { task: 'f'.repeat(32) }, auth);
    expect(gone.meta.result_subcode).toBe(101);
  });

  it.each([
    [
      'a hyperparam value that is a number',
      { Args: { lr: { section: 'Args', name: 'lr', value: 0.1 } } },
    ],
    ['a flat hyperparams object', { lr: '0.1' }],
    [
      'an item naming another section',
      { Args: { lr: { section: 'General', name: 'lr', value: '1' } } },
    ],
  ])('refuses %s in tasks.create (400/12, a violation)', async (_, hyperparams) => {
    const auth = await login();
    const answer = await call('tasks.create', { name: 'r', type: 'training', hyperparams }, auth);
    expect([answer.status, answer.meta.result_subcode]).toEqual([400, 12]);
    expect(clearml.violations).toHaveLength(1);
  });

  it('refuses a task without a type or of an unknown type', async () => {
    const auth = await login();
    expect((await call('tasks.create', { name: 'r' }, auth)).meta.result_subcode).toBe(11);
    expect(
      (await call('tasks.create', { name: 'r', type: 'train' }, auth)).meta.result_subcode,
    ).toBe(12);
  });

  it('answers 415 in plain text to a compressed body', async () => {
    const auth = await login();
    const response = await fetch(`${clearml.url}/events.add_batch`, {
      method: 'POST',
      headers: { authorization: auth, 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify(scalar('x', 1, 1))),
    });
    expect(response.status).toBe(415);
    expect(response.headers.get('content-type')).toBe('text/plain');
    expect(clearml.violations).toHaveLength(1);
  });

  it('answers 400/17 to an empty batch and 400/131 when no event was added', async () => {
    const auth = await login();
    const task = await newTask(auth);
    const empty = await batch(auth, [], '\n');
    expect([empty.status, empty.meta.result_subcode]).toEqual([400, 17]);
    const none = await batch(auth, [
      { ...scalar(task, 1, 1), type: 'weird' },
      scalar('nope', 1, 1),
    ]);
    expect([none.status, none.meta.result_subcode]).toEqual([400, 131]);
    expect(none.meta.result_msg).toMatch(/Invalid event type weird/);
    expect(none.meta.result_msg).toMatch(/Invalid task id nope/);
  });

  it('stores scalars by (task, iter, metric, variant): a re-sent one overwrites', async () => {
    const auth = await login();
    const task = await newTask(auth);
    const first = await batch(auth, [scalar(task, 1, 0.5), scalar(task, 2, 0.4)]);
    expect(first.data).toEqual({ added: 2, errors: 0, errors_info: {} });
    await batch(auth, [scalar(task, 1, 0.25), { ...scalar(task, 3, 9), variant: 'acc' }]);
    expect(clearml.scalars(task, 'train', 'loss')).toEqual([
      { iter: 1, value: 0.25 },
      { iter: 2, value: 0.4 },
    ]);
    expect(clearml.scalarArrivals(task)).toHaveLength(4);
    await batch(auth, [
      { task, type: 'log', timestamp: 1_764_597_600_000, level: 'info', msg: 'a' },
      { task, type: 'log', timestamp: 1_764_597_600_000, level: 'info', msg: 'a' },
      {
        task,
        type: 'plot',
        iter: 0,
        metric: 'm',
        variant: 'v',
        plot_str: JSON.stringify({ data: [{ x: [1], y: [null] }], layout: {} }),
      },
    ]);
    expect(clearml.logs(task).map((log) => log.msg)).toEqual(['a', 'a']);
    expect(clearml.plots(task)[0]!.plot.data).toHaveLength(1);
    const request = clearml.requests.find((seen) => seen.path === 'events.add_batch')!;
    expect(request.contentType).toBe('application/json-lines');
    expect(request.bytes).toBeGreaterThan(0);
    expect(clearml.violations).toEqual([]);
  });

  it.each([
    [
      'a bare NaN token',
      (task: string) => JSON.stringify(scalar(task, 1, 0)).replace('"value":0', '"value":NaN'),
      /bare NaN/,
    ],
    [
      'Infinity',
      (task: string) =>
        JSON.stringify(scalar(task, 1, 0)).replace('"value":0', '"value":-Infinity'),
      /bare -Infinity/,
    ],
    [
      'a string value',
      (task: string) => JSON.stringify(scalar(task, 1, '0.5')),
      /value must be a finite number/,
    ],
    [
      'no variant',
      (task: string) => JSON.stringify({ ...scalar(task, 1, 1), variant: undefined }),
      /variant must be a string/,
    ],
    [
      'a fractional iter',
      (task: string) => JSON.stringify(scalar(task, 1.5, 1)),
      /iter must be an integer/,
    ],
    [
      'a timestamp in seconds',
      (task: string) => JSON.stringify({ ...scalar(task, 1, 1), timestamp: 1_764_597_600 }),
      /seconds/,
    ],
    [
      'a plot_str that is no figure',
      (task: string) =>
        JSON.stringify({ task, type: 'plot', iter: 0, metric: 'm', variant: 'v', plot_str: '[1]' }),
      /Plotly figure/,
    ],
    [
      'an unknown log level',
      (task: string) => JSON.stringify({ task, type: 'log', level: 'loud', msg: 'x' }),
      /level must be one of/,
    ],
    [
      'an image without url',
      (task: string) =>
        JSON.stringify({
          task,
          type: 'training_debug_image',
          iter: 0,
          metric: 'm',
          variant: 'v',
          key: 'k',
        }),
      /url must be a string/,
    ],
  ])('refuses an event with %s (a violation)', async (_, line, message) => {
    const auth = await login();
    const task = await newTask(auth);
    const good = JSON.stringify(scalar(task, 7, 1));
    const answer = await batch(auth, [], `${good}\n${line(task)}\n`);
    expect(answer.data).toMatchObject({ added: 1, errors: 1 });
    expect(clearml.violations).toHaveLength(1);
    expect(clearml.violations[0]!.message).toMatch(message);
  });

  it('takes one event by events.add, and vectors', async () => {
    const auth = await login();
    const task = await newTask(auth);
    const one = await call('events.add', scalar(task, 4, 2), auth);
    expect(one.data).toEqual({ added: 1, errors: 0, errors_info: {} });
    const vector = {
      task,
      type: 'training_stats_vector',
      iter: 1,
      metric: 'h',
      variant: 'w',
      values: [1, 2],
    };
    expect((await batch(auth, [vector])).data).toMatchObject({ added: 1 });
    expect(clearml.vectors(task)[0]!.values).toEqual([1, 2]);
    expect(clearml.scalars(task, 'train', 'loss')).toEqual([{ iter: 4, value: 2 }]);
    expect(clearml.violations).toEqual([]);
  });

  it('counts an event without a type or task as ClearML does, and as a violation', async () => {
    const auth = await login();
    const task = await newTask(auth);
    const { task: _, ...noTask } = scalar(task, 1, 1);
    const { type: __, ...noType } = scalar(task, 1, 1);
    const answer = await batch(auth, [scalar(task, 1, 1), noTask, noType]);
    expect(answer.data).toEqual({
      added: 1,
      errors: 2,
      errors_info: { 'Invalid task id undefined': 1, "Event must have a 'type' field": 1 },
    });
    expect(clearml.violations).toHaveLength(2);
  });

  it('refuses a body over 15 MiB with 413', async () => {
    const auth = await login();
    const task = await newTask(auth);
    const line = JSON.stringify(scalar(task, 1, 1));
    const raw = Array.from({ length: Math.ceil(15_728_641 / line.length) }, () => line).join('\n');
    const answer = await batch(auth, [], raw);
    expect(answer.status).toBe(413);
    expect(clearml.violations).toHaveLength(1);
  });

  it('saves multipart uploads under their field names and serves them back', async () => {
    const form = new FormData();
    form.append(
      '/livestep/run.abc/metrics/img.png',
      new Blob([new Uint8Array([1, 2, 3])]),
      'img.png',
    );
    form.append('livestep/run.abc/notes.txt', new Blob(['hello']), 'notes.txt');
    const response = await fetch(`${clearml.filesUrl}/`, { method: 'POST', body: form });
    expect(response.status).toBe(200);
    expect(JSON.parse(await response.text())).toEqual([
      'livestep/run.abc/metrics/img.png',
      'livestep/run.abc/notes.txt',
    ]);
    const back = await fetch(clearml.fileServer.urlOf('livestep/run.abc/metrics/img.png'));
    expect([...new Uint8Array(await back.arrayBuffer())]).toEqual([1, 2, 3]);
    expect(clearml.fileServer.file('/livestep/run.abc/notes.txt')?.toString()).toBe('hello');
    expect((await fetch(`${clearml.filesUrl}/missing`)).status).toBe(404);
    const field = new FormData();
    field.append('livestep/x.txt', 'not a file');
    expect(
      await (await fetch(`${clearml.filesUrl}/`, { method: 'POST', body: field })).text(),
    ).toBe('[]');
    expect(clearml.fileServer.violations).toHaveLength(1);
    expect(clearml.violations).toBe(clearml.fileServer.violations);
  });

  it('injects faults on schedule: 429 and 503 with Retry-After, a dropped connection, an expiry', async () => {
    const auth = await login();
    const task = await newTask(auth);
    clearml.failNext(1, 429, { retryAfter: '2', path: 'events.add_batch' });
    clearml.inject(
      { status: 503, retryAfter: '1', path: 'events.add_batch' },
      { status: 0, path: 'events.add_batch' },
      { status: 401, expireTokens: true, path: 'events.add_batch', after: 4 },
    );
    const limited = await fetch(`${clearml.url}/events.add_batch`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/json-lines' },
      body: JSON.stringify(scalar(task, 1, 1)),
    });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('2');
    expect(((await limited.json()) as Answer).meta.result_code).toBe(429);
    const busy = await batch(auth, [scalar(task, 1, 1)]);
    expect(busy.status).toBe(503);
    await expect(batch(auth, [scalar(task, 1, 1)])).rejects.toThrow();
    expect((await batch(auth, [scalar(task, 1, 1)])).status).toBe(200);
    // Not taken by other paths.
    expect((await call('projects.get_all', {}, auth)).status).toBe(200);
    const expired = await batch(auth, [scalar(task, 1, 1)]);
    expect([expired.status, expired.meta.result_subcode]).toEqual([401, 30]);
    expect((await batch(auth, [scalar(task, 1, 1)])).status).toBe(401);
    expect((await batch(await login(), [scalar(task, 1, 1)])).status).toBe(200);
    expect(clearml.faultsLeft).toBe(0);
    expect(clearml.requests.filter((request) => request.fault)).toHaveLength(4);
    expect(clearml.violations).toEqual([]);
  });
});
