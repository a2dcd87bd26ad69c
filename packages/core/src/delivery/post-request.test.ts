import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  MAX_ANSWER_BYTES,
  type PostResult,
  postRequest,
  postTo,
  postWithFetch,
} from './post-request.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function serve(listener: RequestListener): Promise<URL> {
  const server = createServer(listener);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/batches`);
}

const options = (timeoutMs = 2_000, signal = new AbortController().signal) => ({
  headers: { 'content-type': 'application/json' },
  body: '{"events":[]}',
  timeoutMs,
  signal,
});

type Answered = Extract<PostResult, { answered: true }>;

describe.each([
  [
    'node:http',
    (url: URL, timeoutMs?: number, signal?: AbortSignal) =>
      postRequest(url, options(timeoutMs, signal)),
  ],
  [
    'fetch',
    (url: URL, timeoutMs?: number, signal?: AbortSignal) =>
      postWithFetch(fetch, url, options(timeoutMs, signal)),
  ],
] as const)('%s transport', (_name, post) => {
  it('returns the answer: status, headers and the complete body', async () => {
    const url = await serve((request, response) => {
      request.resume();
      request.on('end', () =>
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"stored":0}'),
      );
    });
    const result = (await post(url)) as Answered;
    expect(result).toMatchObject({ answered: true, status: 200, complete: true, truncated: false });
    expect(result.headers['content-type']).toBe('application/json');
    expect(result.body.toString()).toBe('{"stored":0}');
  });

  it('does not follow a redirect: the 3xx and its Location are the answer', async () => {
    let followed = false;
    const elsewhere = await serve((_request, response) => {
      followed = true;
      response.end('{}');
    });
    const url = await serve((request, response) => {
      request.resume();
      response.writeHead(307, { location: elsewhere.href }).end();
    });
    const result = (await post(url)) as Answered;
    expect(result.status).toBe(307);
    expect(result.headers.location).toBe(elsewhere.href);
    expect(followed).toBe(false);
  });

  it('tells a body cut off by a closed connection from a complete one', async () => {
    const url = await serve((request, response) => {
      request.resume();
      response.writeHead(200, { 'content-length': '100' });
      response.write('{"stored":');
      setTimeout(() => response.socket?.destroy(), 5);
    });
    const result = await post(url);
    // Either the answer arrived incomplete, or (fetch) the cut came before any of it was read.
    if (result.answered) expect(result.complete).toBe(false);
    else expect(result.reason).toBe('network');
  });

  it(`reads at most ${MAX_ANSWER_BYTES} bytes of an answer`, async () => {
    const url = await serve((request, response) => {
      request.resume();
      response.writeHead(400);
      response.end('x'.repeat(MAX_ANSWER_BYTES * 4));
    });
    const result = (await post(url)) as Answered;
    expect(result).toMatchObject({ status: 400, truncated: true, complete: false });
    expect(result.body.length).toBe(MAX_ANSWER_BYTES);
  });

  it('gives up on a server that does not answer in time, and on an abort', async () => {
    const url = await serve(() => {});
    expect(await post(url, 100)).toMatchObject({ answered: false, reason: 'timeout' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    expect(await post(url, 10_000, controller.signal)).toMatchObject({
      answered: false,
      reason: 'stopped',
    });
  });

  it('names a refused connection', async () => {
    const url = await serve(() => {});
    servers[0]!.close();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await post(url)).toMatchObject({
      answered: false,
      reason: 'network',
      cause: 'ECONNREFUSED',
    });
  });
});

describe('node:http transport', () => {
  it('sends again, on a new connection, when a kept-alive connection is closed as it is reused', async () => {
    const requestsBySocket = new Map<unknown, number>();
    const url = await serve((request, response) => {
      const count = (requestsBySocket.get(request.socket) ?? 0) + 1;
      requestsBySocket.set(request.socket, count);
      request.resume();
      // The second request on a connection: the server had just closed it (its keep-alive
      // timeout), so the request never got there.
      if (count === 2) return void request.socket.destroy();
      request.on('end', () => response.end('{}'));
    });
    expect(await postRequest(url, options())).toMatchObject({ status: 200 });
    expect(await postRequest(url, options())).toMatchObject({ status: 200 });
    expect(requestsBySocket.size).toBe(2);
  });
});

describe('postTo', () => {
  it('follows a redirect over a fetch only when asked (Studio), never over node:http', async () => {
    const url = await serve((request, response) => {
      if (request.url === '/moved') {
        request.resume();
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
        return;
      }
      request.resume();
      response.writeHead(307, { location: '/moved' }).end();
    });
    const followed = await postTo(url, { ...options(), redirect: 'follow' }, fetch);
    expect(followed).toMatchObject({ answered: true, status: 200 });
    const manual = await postTo(url, options(), fetch);
    expect(manual).toMatchObject({ answered: true, status: 307 });
    const overNodeHttp = await postTo(url, { ...options(), redirect: 'follow' });
    expect(overNodeHttp).toMatchObject({ answered: true, status: 307 });
  });
});
