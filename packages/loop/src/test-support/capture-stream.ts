/** Streams and event-loop turns for the progress tests. */
/** A writable that keeps what is written; `isTTY` and `columns` make it look like a terminal. */
export function captureStream(terminal?: { columns?: number }): {
  write(text: string): boolean;
  text(): string;
  writes: string[];
  isTTY?: boolean;
  columns?: number;
} {
  const writes: string[] = [];
  const stream = {
    writes,
    write(text: string) {
      writes.push(String(text));
      return true;
    },
    text: () => writes.join(''),
  };
  if (terminal === undefined) return stream;
  return { ...stream, isTTY: true, columns: terminal.columns ?? 80 };
}

/** Waits for the next turn of the event loop (after setImmediate callbacks queued before). */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}

/** Keeps the CPU busy, so time passes inside a loop that never yields. */
export function busyFor(milliseconds: number): void {
  const until = performance.now() + milliseconds;
  while (performance.now() < until) {
    // spin
  }
}
