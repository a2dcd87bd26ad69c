/** Reads a Server-Sent Events stream with fetch, collecting frames, for tests. */

export interface StreamFrame {
  id?: string;
  event: string;
  data: unknown;
}

export class EventStreamClient {
  readonly frames: StreamFrame[] = [];
  private readonly controller = new AbortController();
  private waiters: Array<() => void> = [];
  status = 0;
  ended: Promise<void> = Promise.resolve();

  static async open(url: string, headers: Record<string, string> = {}): Promise<EventStreamClient> {
    const client = new EventStreamClient();
    const response = await fetch(url, { headers, signal: client.controller.signal });
    client.status = response.status;
    client.ended = client.read(response).catch(() => {});
    return client;
  }

  private async read(response: Response): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const frame: StreamFrame = { event: 'message', data: undefined };
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('id: ')) frame.id = line.slice(4);
          else if (line.startsWith('event: ')) frame.event = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (data !== '') {
          frame.data = JSON.parse(data);
          this.frames.push(frame);
          for (const wake of this.waiters.splice(0)) wake();
        }
        end = buffer.indexOf('\n\n');
      }
    }
  }

  /** Waits until a frame matches (at most `timeoutMs`). */
  async waitFor(
    predicate: (frame: StreamFrame) => boolean,
    timeoutMs = 5_000,
  ): Promise<StreamFrame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find(predicate);
      if (found !== undefined) return found;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames.map((frame) => frame.event))}`,
        );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.controller.abort();
  }
}
