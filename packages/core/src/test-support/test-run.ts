import type { Sink } from '../pipeline/sink.js';
import { Run } from '../run/run.js';
import type { StartRunOptions } from '../run/run-options.js';
import { createMemorySink, type MemorySink } from '../sinks/memory-sink.js';

/** A run that records into memory, with no exit hooks and no git, collecting its warnings. */
export function startTestRun(options: StartRunOptions = {}): {
  run: Run;
  sink: MemorySink;
  warnings: string[];
} {
  const sink = createMemorySink();
  const warnings: string[] = [];
  const run = new Run({
    experiment: 'test',
    name: 'test-run',
    exitHooks: false,
    collectGit: false,
    sinks: [sink as Sink, ...(options.sinks ?? [])],
    onWarning: (message) => warnings.push(message),
    ...options,
    ...(options.sinks && { sinks: [sink, ...options.sinks] }),
  });
  return { run, sink, warnings };
}

/** A sink whose every send waits for `release()`. */
export function createGatedSink(name = 'gated'): Sink & { release(): void; received: number } {
  let open: () => void = () => {};
  let gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const sink = {
    name,
    received: 0,
    async send(batch: { events: unknown[] }) {
      sink.received += batch.events.length;
      await gate;
    },
    release() {
      open();
      gate = Promise.resolve();
    },
  };
  return sink;
}
