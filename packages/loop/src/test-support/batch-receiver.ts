/**
 * A livestep server for tests, as small as it can be: a real HTTP server on 127.0.0.1 (port
 * chosen at run time) that takes protocol v1 batches at `/api/v1/batches`, answers 200, and
 * remembers when each batch arrived, so a test can tell what reached it while a child process
 * was still running.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import type { Batch, RunEvent } from '@livestep/core';

export interface ReceivedBatch {
  /** Epoch ms when the batch arrived (comparable with `Date.now()` in a child process). */
  at: number;
  events: RunEvent[];
}

export interface BatchReceiver {
  /** The base URL to pass as LIVESTEP_URL, or to `createHttpSink({ url })`. */
  url: string;
  readonly batches: ReceivedBatch[];
  stop(): Promise<void>;
}

export async function startBatchReceiver(): Promise<BatchReceiver> {
  const batches: ReceivedBatch[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      let body = Buffer.concat(chunks);
      if (request.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      try {
        const batch = JSON.parse(body.toString('utf8')) as Batch;
        batches.push({ at: Date.now(), events: batch.events });
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } catch {
        response.writeHead(400).end('body is not JSON');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    batches,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
