/**
 * What the fake ClearML API server and file server share: a real HTTP server on 127.0.0.1 (a
 * free port), the sockets closed with it, and a schedule of injected faults.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface FakeClearmlFault {
  /** The answer's status (the envelope's result_code on the API server; default 503, or 401 with `expireTokens`); 0 drops the connection. */
  status?: number;
  /** The envelope's result_subcode (default 0; 30 for a 401, as an expired token). */
  subcode?: number;
  /** Sent as Retry-After (e.g. with 429 or 503). */
  retryAfter?: string;
  /** Only requests to this path take it: `service.action` (e.g. `events.add_batch`), or on the file server `upload` / `download`. */
  path?: string;
  /** Not before this many requests to `path` (or to any) were answered. */
  after?: number;
  /** API server: forget every issued token first (the answer is then 401/30 unless `status` says otherwise). */
  expireTokens?: boolean;
  message?: string;
}

export abstract class FakeClearmlHttp {
  /** The most requests it was answering at once (a client that sends one at a time keeps it 1). */
  maxConcurrent = 0;
  private concurrent = 0;
  protected readonly faults: FakeClearmlFault[] = [];
  private readonly answered: string[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  get url(): string {
    return `http://127.0.0.1:${(this.server?.address() as AddressInfo | undefined)?.port ?? 0}`;
  }

  async start(): Promise<this> {
    const server = createServer((request, response) => {
      this.concurrent++;
      this.maxConcurrent = Math.max(this.maxConcurrent, this.concurrent);
      response.on('close', () => this.concurrent--);
      void this.handle(request, response).catch((error: unknown) => {
        if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' });
        response.end(`fake ClearML: ${String(error)}`);
      });
    });
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    return this;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The next `count` requests (to `options.path` when given) are answered `status`; 0 drops the connection. */
  failNext(count: number, status: number, options: Omit<FakeClearmlFault, 'status'> = {}): void {
    for (let index = 0; index < count; index++) this.faults.push({ status, ...options });
  }

  /** Faults given one by one, in order (a schedule). */
  inject(...faults: FakeClearmlFault[]): void {
    this.faults.push(...faults);
  }

  /** Drops every injected fault not used yet (the server is healthy again). */
  clearFaults(): void {
    this.faults.length = 0;
  }

  /** How many injected faults were not used yet. */
  get faultsLeft(): number {
    return this.faults.length;
  }

  /** Takes the first fault due for a request to `path` (call once per request). */
  protected takeFault(path: string): FakeClearmlFault | undefined {
    const index = this.faults.findIndex(
      (fault) =>
        (fault.path === undefined || fault.path === path) &&
        this.answered.filter((seen) => fault.path === undefined || seen === fault.path).length >=
          (fault.after ?? 0),
    );
    this.answered.push(path);
    return index === -1 ? undefined : this.faults.splice(index, 1)[0];
  }

  protected abstract handle(request: IncomingMessage, response: ServerResponse): Promise<void>;
}

/** The request's body, read to the end. */
export async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
